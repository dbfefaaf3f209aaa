//! The DynamoDB backend: each [`RawBackend`] call is one SDK call.
//!
//! Expressions use placeholders for every name and value ([`expr`]); every call asks for
//! `ReturnConsumedCapacity = TOTAL` and every conditional write for the stored item when its
//! condition fails; SDK errors are classified by code ([`errors`]). Splitting batches, retrying
//! unprocessed items and paging are done above, once for every backend. Each call runs in a
//! `dynamodb.<call>` debug span that records the table, never keys or items.

use std::fmt;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::customize::CustomizableOperation;
use aws_sdk_dynamodb::config::Builder as ConfigBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    TableStatus,
};
use tracing::{Instrument, debug_span};

use self::convert::{
    Charge, capacity, from_sdk_item, from_sdk_key, per_action, pk_of, to_sdk_item, to_sdk_key,
    total,
};
use self::errors::{build_error, code, sdk_error, transaction_error, write_error};
use self::expr::{key_condition, render};
use self::requests::{action_pk, batch_write, transact_item, write_request};
use super::{
    Backend, BackendResult, BatchGetOutput, BatchGetRequest, BatchWrite, BatchWriteRequest,
    BoxFuture, DeleteRequest, GetRequest, Output, PutRequest, QueryOutput, QueryRequest,
    RawBackend, TableState, TransactAction, UpdateRequest,
};
use crate::error::Error;
use crate::item::{Item, PK, SK};
use crate::stored::StoredItem;
use crate::usage::Capacity;

mod convert;
mod errors;
mod expr;
mod requests;
#[cfg(test)]
mod tests;

impl Backend {
    /// DynamoDB through `client`.
    ///
    /// Configure the client the standard way (`aws_config::load_defaults`, which honours
    /// `AWS_REGION`, `AWS_ENDPOINT_URL`, the Lambda role's credentials, ...), once per process.
    ///
    /// ```no_run
    /// # async fn cold_start() -> saas_data::Result<()> {
    /// use saas_data::{Backend, DataStore};
    ///
    /// let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    /// let backend = Backend::dynamodb(aws_sdk_dynamodb::Client::new(&config));
    /// let store = DataStore::builder(backend).pool("app-data").build()?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn dynamodb(client: Client) -> Backend {
        Backend(Arc::new(DynamoDb {
            client,
            #[cfg(feature = "tenant-credentials")]
            credentials: None,
        }))
    }
}

#[cfg(feature = "tenant-credentials")]
impl Backend {
    /// DynamoDB with tenant-scoped credentials (defense in depth): every call on a tenant's keys
    /// is signed with that tenant's STS session
    /// ([`TenantCredentials::credentials`](crate::credentials::TenantCredentials::credentials),
    /// cached per tenant), chosen from the partition keys the call actually sends, so DynamoDB
    /// itself refuses any other tenant's keys. Calls still go through `client` (one connection
    /// pool, its retry and timeout settings); only their credentials change. System items and
    /// table management use `client`'s own credentials.
    ///
    /// One call carries one owner's keys: a batch or transaction that mixes tenants, or a tenant
    /// and system items, fails with [`Error::InvalidRequest`] before anything is sent.
    ///
    /// ```no_run
    /// # async fn cold_start() -> saas_data::Result<()> {
    /// use saas_data::Backend;
    /// use saas_data::credentials::TenantCredentials;
    ///
    /// let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    /// let credentials = TenantCredentials::builder(
    ///     aws_sdk_sts::Client::new(&config),
    ///     "arn:aws:iam::111122223333:role/tenant-data",
    /// )
    /// .table_arn("arn:aws:dynamodb:eu-west-1:111122223333:table/app-data")
    /// .build()?;
    /// let backend = Backend::dynamodb_with_tenant_credentials(
    ///     aws_sdk_dynamodb::Client::new(&config),
    ///     credentials,
    /// );
    /// # let _ = backend; Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "tenant-credentials")))]
    pub fn dynamodb_with_tenant_credentials(
        client: Client,
        credentials: crate::credentials::TenantCredentials,
    ) -> Backend {
        Backend(Arc::new(DynamoDb {
            client,
            credentials: Some(credentials),
        }))
    }
}

/// The backend: a client, and the tenant credentials to derive per-tenant clients from.
struct DynamoDb {
    client: Client,
    #[cfg(feature = "tenant-credentials")]
    credentials: Option<crate::credentials::TenantCredentials>,
}

impl fmt::Debug for DynamoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("DynamoDb");
        #[cfg(feature = "tenant-credentials")]
        s.field("tenant_credentials", &self.credentials.is_some());
        s.finish_non_exhaustive()
    }
}

impl DynamoDb {
    /// The configuration override for a call that sends these partition keys: none, or with
    /// tenant credentials, the keys' owner's credentials (system keys: none).
    ///
    /// The call still goes through the one shared client (its connection pool, retries and
    /// timeouts); only the identity it signs with changes.
    async fn call_config<'a>(
        &self,
        pks: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<ConfigBuilder>, Error> {
        #[cfg(feature = "tenant-credentials")]
        if let Some(credentials) = &self.credentials {
            let Some(tenant) = owner(pks)? else {
                return Ok(None);
            };
            let tenant = saas_core::TenantId::new(tenant)
                .map_err(|_| Error::internal("a parsed tenant id is not valid"))?;
            let session = credentials.credentials(&tenant).await?;
            return Ok(Some(ConfigBuilder::default().credentials_provider(session)));
        }
        #[cfg(not(feature = "tenant-credentials"))]
        let _ = pks;
        Ok(None)
    }

    async fn get_item(&self, req: GetRequest) -> BackendResult<Option<StoredItem>> {
        let config = self.call_config([req.key.pk.as_str()]).await?;
        let out = self
            .client
            .get_item()
            .table_name(&*req.table)
            .set_key(Some(to_sdk_key(&req.key)))
            .consistent_read(req.consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .customize()
            .scoped(config)
            .send()
            .await
            .map_err(sdk_error)?;
        let capacity = capacity(out.consumed_capacity(), Charge::Read);
        let value = out
            .item
            .map(from_sdk_item)
            .transpose()?
            .map(StoredItem::from);
        Ok(Output { value, capacity })
    }

    async fn put_item(&self, req: PutRequest) -> BackendResult<()> {
        let config = self
            .call_config([pk_of(&req.item).unwrap_or_default()])
            .await?;
        let expr = render(None, req.condition.as_ref())?;
        let out = self
            .client
            .put_item()
            .table_name(&*req.table)
            .set_item(Some(to_sdk_item(req.item)))
            .set_condition_expression(expr.condition)
            .set_expression_attribute_names(expr.names)
            .set_expression_attribute_values(expr.values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .customize()
            .scoped(config)
            .send()
            .await
            .map_err(write_error)?;
        Ok(Output {
            value: (),
            capacity: capacity(out.consumed_capacity(), Charge::Write),
        })
    }

    async fn update_item(&self, req: UpdateRequest) -> BackendResult<Item> {
        let config = self.call_config([req.key.pk.as_str()]).await?;
        let expr = render(Some(&req.actions), req.condition.as_ref())?;
        let out = self
            .client
            .update_item()
            .table_name(&*req.table)
            .set_key(Some(to_sdk_key(&req.key)))
            .set_update_expression(expr.update)
            .set_condition_expression(expr.condition)
            .set_expression_attribute_names(expr.names)
            .set_expression_attribute_values(expr.values)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .customize()
            .scoped(config)
            .send()
            .await
            .map_err(write_error)?;
        let capacity = capacity(out.consumed_capacity(), Charge::Write);
        let item = out
            .attributes
            .ok_or_else(|| Error::internal("UpdateItem returned no item"))?;
        Ok(Output {
            value: from_sdk_item(item)?,
            capacity,
        })
    }

    async fn delete_item(&self, req: DeleteRequest) -> BackendResult<()> {
        let config = self.call_config([req.key.pk.as_str()]).await?;
        let expr = render(None, req.condition.as_ref())?;
        let out = self
            .client
            .delete_item()
            .table_name(&*req.table)
            .set_key(Some(to_sdk_key(&req.key)))
            .set_condition_expression(expr.condition)
            .set_expression_attribute_names(expr.names)
            .set_expression_attribute_values(expr.values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .customize()
            .scoped(config)
            .send()
            .await
            .map_err(write_error)?;
        Ok(Output {
            value: (),
            capacity: capacity(out.consumed_capacity(), Charge::Write),
        })
    }

    async fn query_items(&self, req: QueryRequest) -> BackendResult<QueryOutput> {
        let config = self.call_config([req.pk.as_str()]).await?;
        let kc = key_condition(&req.pk, &req.sort);
        let start = req.start_after.map(|sk| {
            to_sdk_key(&super::PhysKey {
                pk: req.pk.clone(),
                sk,
            })
        });
        let out = self
            .client
            .query()
            .table_name(&*req.table)
            .key_condition_expression(kc.expression)
            .set_expression_attribute_names(Some(kc.names))
            .set_expression_attribute_values(Some(kc.values))
            .limit(i32::try_from(req.limit.max(1)).unwrap_or(i32::MAX))
            .scan_index_forward(!req.descending)
            .consistent_read(req.consistent)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .customize()
            .scoped(config)
            .send()
            .await
            .map_err(sdk_error)?;
        let capacity = capacity(out.consumed_capacity(), Charge::Read);
        let last_sort = out
            .last_evaluated_key
            .as_ref()
            .map(from_sdk_key)
            .transpose()?
            .map(|k| k.sk);
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_sdk_item(item).map(StoredItem::from))
            .collect::<Result<_, _>>()?;
        Ok(Output {
            value: QueryOutput { items, last_sort },
            capacity,
        })
    }

    async fn batch_get_items(&self, req: BatchGetRequest) -> BackendResult<BatchGetOutput> {
        if req.keys.is_empty() {
            return Ok(Output {
                value: BatchGetOutput {
                    items: Vec::new(),
                    unprocessed: Vec::new(),
                },
                capacity: Capacity::default(),
            });
        }
        let config = self
            .call_config(req.keys.iter().map(|k| k.pk.as_str()))
            .await?;
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(req.keys.iter().map(to_sdk_key).collect()))
            .consistent_read(req.consistent)
            .build()
            .map_err(build_error)?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&*req.table, keys)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .customize()
            .scoped(config)
            .send()
            .await
            .map_err(sdk_error)?;
        let capacity = total(out.consumed_capacity(), Charge::Read);
        let items = out
            .responses
            .and_then(|mut r| r.remove(&*req.table))
            .unwrap_or_default()
            .into_iter()
            .map(from_sdk_item)
            .collect::<Result<_, _>>()?;
        let unprocessed = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(&*req.table))
            .map(|k| k.keys)
            .unwrap_or_default()
            .iter()
            .map(from_sdk_key)
            .collect::<Result<_, _>>()?;
        Ok(Output {
            value: BatchGetOutput { items, unprocessed },
            capacity,
        })
    }

    async fn batch_write_items(&self, req: BatchWriteRequest) -> BackendResult<Vec<BatchWrite>> {
        if req.writes.is_empty() {
            return Ok(Output {
                value: Vec::new(),
                capacity: Capacity::default(),
            });
        }
        let config = self
            .call_config(req.writes.iter().map(|w| match w {
                BatchWrite::Put(item) => pk_of(item).unwrap_or_default(),
                BatchWrite::Delete(key) => key.pk.as_str(),
            }))
            .await?;
        let requests = req
            .writes
            .into_iter()
            .map(write_request)
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .batch_write_item()
            .request_items(&*req.table, requests)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .customize()
            .scoped(config)
            .send()
            .await
            .map_err(sdk_error)?;
        let capacity = total(out.consumed_capacity(), Charge::Write);
        let unprocessed = out
            .unprocessed_items
            .and_then(|mut u| u.remove(&*req.table))
            .unwrap_or_default()
            .into_iter()
            .map(batch_write)
            .collect::<Result<_, _>>()?;
        Ok(Output {
            value: unprocessed,
            capacity,
        })
    }

    async fn transact_write_items(
        &self,
        actions: Vec<TransactAction>,
    ) -> BackendResult<Vec<Capacity>> {
        if actions.is_empty() {
            return Err(Error::invalid_request("a transaction needs at least one action").into());
        }
        let config = self.call_config(actions.iter().map(action_pk)).await?;
        let tables: Vec<Arc<str>> = actions.iter().map(|a| a.table().clone()).collect();
        let items = actions
            .into_iter()
            .map(transact_item)
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .customize()
            .scoped(config)
            .send()
            .await
            .map_err(transaction_error)?;
        let names: Vec<&str> = tables.iter().map(|t| &**t).collect();
        let value = per_action(out.consumed_capacity(), &names);
        let capacity = value.iter().fold(Capacity::default(), |sum, c| sum + *c);
        Ok(Output { value, capacity })
    }

    async fn create(&self, table: String) -> Result<(), Error> {
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(build_error)
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let result = self
            .client
            .create_table()
            .table_name(table)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .attribute_definitions(attribute(PK)?)
            .attribute_definitions(attribute(SK)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn delete(&self, table: String) -> Result<(), Error> {
        match self.client.delete_table().table_name(table).send().await {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn state(&self, table: String) -> Result<TableState, Error> {
        match self.client.describe_table().table_name(table).send().await {
            Ok(out) => Ok(match out.table.and_then(|t| t.table_status) {
                Some(TableStatus::Creating) => TableState::Creating,
                Some(TableStatus::Active) => TableState::Active,
                Some(TableStatus::Deleting) => TableState::Deleting,
                _ => TableState::Other,
            }),
            Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(TableState::Missing),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

impl RawBackend for DynamoDb {
    fn get(&self, req: GetRequest) -> BoxFuture<'_, BackendResult<Option<StoredItem>>> {
        let span = debug_span!("dynamodb.get", table = %req.table);
        Box::pin(self.get_item(req).instrument(span))
    }

    fn put(&self, req: PutRequest) -> BoxFuture<'_, BackendResult<()>> {
        let span = debug_span!("dynamodb.put", table = %req.table);
        Box::pin(self.put_item(req).instrument(span))
    }

    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, BackendResult<Item>> {
        let span = debug_span!("dynamodb.update", table = %req.table);
        Box::pin(self.update_item(req).instrument(span))
    }

    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, BackendResult<()>> {
        let span = debug_span!("dynamodb.delete", table = %req.table);
        Box::pin(self.delete_item(req).instrument(span))
    }

    fn query(&self, req: QueryRequest) -> BoxFuture<'_, BackendResult<QueryOutput>> {
        let span = debug_span!("dynamodb.query", table = %req.table);
        Box::pin(self.query_items(req).instrument(span))
    }

    fn batch_get(&self, req: BatchGetRequest) -> BoxFuture<'_, BackendResult<BatchGetOutput>> {
        let span = debug_span!("dynamodb.batch_get", table = %req.table);
        Box::pin(self.batch_get_items(req).instrument(span))
    }

    fn batch_write(&self, req: BatchWriteRequest) -> BoxFuture<'_, BackendResult<Vec<BatchWrite>>> {
        let span = debug_span!("dynamodb.batch_write", table = %req.table);
        Box::pin(self.batch_write_items(req).instrument(span))
    }

    fn transact_write(
        &self,
        actions: Vec<TransactAction>,
    ) -> BoxFuture<'_, BackendResult<Vec<Capacity>>> {
        let mut tables: Vec<&str> = actions.iter().map(|a| &**a.table()).collect();
        tables.sort_unstable();
        tables.dedup();
        let span = debug_span!("dynamodb.transact_write", table = %tables.join(","));
        Box::pin(self.transact_write_items(actions).instrument(span))
    }

    fn create_table(&self, table: &str) -> BoxFuture<'_, Result<(), Error>> {
        let span = debug_span!("dynamodb.create_table", table);
        Box::pin(self.create(table.to_owned()).instrument(span))
    }

    fn delete_table(&self, table: &str) -> BoxFuture<'_, Result<(), Error>> {
        let span = debug_span!("dynamodb.delete_table", table);
        Box::pin(self.delete(table.to_owned()).instrument(span))
    }

    fn table_state(&self, table: &str) -> BoxFuture<'_, Result<TableState, Error>> {
        let span = debug_span!("dynamodb.table_state", table);
        Box::pin(self.state(table.to_owned()).instrument(span))
    }
}

/// Sends an operation with a call's configuration override.
trait Scoped {
    fn scoped(self, config: Option<ConfigBuilder>) -> Self;
}

impl<T, E, B> Scoped for CustomizableOperation<T, E, B> {
    fn scoped(self, config: Option<ConfigBuilder>) -> Self {
        match config {
            Some(config) => self.config_override(config),
            None => self,
        }
    }
}

/// Whose keys a call carries: `Some(tenant)`, or `None` for system items (and for no keys).
/// Keys outside the crate's layout, and keys of several owners, are refused.
#[cfg(feature = "tenant-credentials")]
fn owner<'a>(pks: impl IntoIterator<Item = &'a str>) -> Result<Option<&'a str>, Error> {
    let mut found: Option<Option<&str>> = None;
    for pk in pks {
        let Some((tenant, _, _)) = crate::key::parse_pk(pk) else {
            return Err(Error::invalid_request(
                "a key outside saas-data's layout cannot be used with tenant-scoped credentials",
            ));
        };
        match found {
            Some(seen) if seen != tenant => {
                return Err(Error::invalid_request(
                    "a request cannot span tenants with tenant-scoped credentials",
                ));
            }
            _ => found = Some(tenant),
        }
    }
    Ok(found.flatten())
}
