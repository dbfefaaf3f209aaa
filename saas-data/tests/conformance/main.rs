//! One conformance suite, run on every backend (in memory, file, DynamoDB on moto) in every
//! model (pool, silo, mixed): the same operations must give the same answers everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cases;
mod harness;

use harness::{Engine, Layout, run};

macro_rules! combo {
    ($module:ident, $engine:ident, $layout:ident; $($case:ident),* $(,)?) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    run(Engine::$engine, Layout::$layout, cases::$case).await;
                }
            )*
        }
    };
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        combo!(memory_pool, Memory, Pool; $($case),*);
        combo!(memory_silo, Memory, Silo; $($case),*);
        combo!(memory_mixed, Memory, Mixed; $($case),*);
        combo!(file_pool, File, Pool; $($case),*);
        combo!(file_silo, File, Silo; $($case),*);
        combo!(file_mixed, File, Mixed; $($case),*);
        combo!(dynamodb_pool, Dynamo, Pool; $($case),*);
        combo!(dynamodb_silo, Dynamo, Silo; $($case),*);
        combo!(dynamodb_mixed, Dynamo, Mixed; $($case),*);
    };
}

suite!(
    crud_round_trip,
    create_only_conflicts,
    upsert_versions,
    if_version,
    update,
    delete,
    conditions,
    query_orders_and_ranges,
    query_page_boundaries,
    query_thousand_items,
    cursor_attacks,
    batches,
    transactions,
    large_items,
    unicode_keys_sort_bytewise,
    reserved_attributes,
    isolation_kit,
    prefix_tenant_ids,
    usage_is_reported,
    system_items_are_apart,
    placement_refusals,
    write_shards,
    shared_table_names_are_refused,
);
