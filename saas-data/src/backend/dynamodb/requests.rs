//! SDK requests built from the backend's: transaction actions and batch writes.

use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, DeleteRequest, Put, PutRequest, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update, WriteRequest,
};

use super::convert::{from_sdk_item, from_sdk_key, pk_of, to_sdk_item, to_sdk_key};
use super::errors::build_error;
use super::expr::render;
use crate::backend::{BatchWrite, TransactAction};
use crate::error::Error;

/// The partition key a transaction action sends.
pub(super) fn action_pk(action: &TransactAction) -> &str {
    match action {
        TransactAction::Put { item, .. } => pk_of(item).unwrap_or_default(),
        TransactAction::Update { key, .. }
        | TransactAction::Delete { key, .. }
        | TransactAction::ConditionCheck { key, .. } => &key.pk,
    }
}

/// One action of `TransactWriteItems`, asking for the stored item if its condition fails.
pub(super) fn transact_item(action: TransactAction) -> Result<TransactWriteItem, Error> {
    let on_failure = ReturnValuesOnConditionCheckFailure::AllOld;
    let item = TransactWriteItem::builder();
    Ok(match action {
        TransactAction::Put {
            table,
            item: attributes,
            condition,
        } => {
            let expr = render(None, condition.as_ref())?;
            let put = Put::builder()
                .table_name(&*table)
                .set_item(Some(to_sdk_item(attributes)))
                .set_condition_expression(expr.condition)
                .set_expression_attribute_names(expr.names)
                .set_expression_attribute_values(expr.values)
                .return_values_on_condition_check_failure(on_failure)
                .build()
                .map_err(build_error)?;
            item.put(put).build()
        }
        TransactAction::Update {
            table,
            key,
            actions,
            condition,
        } => {
            let expr = render(Some(&actions), condition.as_ref())?;
            let update = Update::builder()
                .table_name(&*table)
                .set_key(Some(to_sdk_key(&key)))
                .set_update_expression(expr.update)
                .set_condition_expression(expr.condition)
                .set_expression_attribute_names(expr.names)
                .set_expression_attribute_values(expr.values)
                .return_values_on_condition_check_failure(on_failure)
                .build()
                .map_err(build_error)?;
            item.update(update).build()
        }
        TransactAction::Delete {
            table,
            key,
            condition,
        } => {
            let expr = render(None, condition.as_ref())?;
            let delete = Delete::builder()
                .table_name(&*table)
                .set_key(Some(to_sdk_key(&key)))
                .set_condition_expression(expr.condition)
                .set_expression_attribute_names(expr.names)
                .set_expression_attribute_values(expr.values)
                .return_values_on_condition_check_failure(on_failure)
                .build()
                .map_err(build_error)?;
            item.delete(delete).build()
        }
        TransactAction::ConditionCheck {
            table,
            key,
            condition,
        } => {
            let expr = render(None, Some(&condition))?;
            let check = ConditionCheck::builder()
                .table_name(&*table)
                .set_key(Some(to_sdk_key(&key)))
                .set_condition_expression(expr.condition)
                .set_expression_attribute_names(expr.names)
                .set_expression_attribute_values(expr.values)
                .return_values_on_condition_check_failure(on_failure)
                .build()
                .map_err(build_error)?;
            item.condition_check(check).build()
        }
    })
}

/// One write of `BatchWriteItem`.
pub(super) fn write_request(write: BatchWrite) -> Result<WriteRequest, Error> {
    let request = WriteRequest::builder();
    Ok(match write {
        BatchWrite::Put(item) => {
            let put = PutRequest::builder()
                .set_item(Some(to_sdk_item(item)))
                .build()
                .map_err(build_error)?;
            request.put_request(put).build()
        }
        BatchWrite::Delete(key) => {
            let delete = DeleteRequest::builder()
                .set_key(Some(to_sdk_key(&key)))
                .build()
                .map_err(build_error)?;
            request.delete_request(delete).build()
        }
    })
}

/// An unprocessed write of `BatchWriteItem`, back as the crate's.
pub(super) fn batch_write(request: WriteRequest) -> Result<BatchWrite, Error> {
    match (request.put_request, request.delete_request) {
        (Some(put), _) => Ok(BatchWrite::Put(from_sdk_item(put.item)?)),
        (None, Some(delete)) => Ok(BatchWrite::Delete(from_sdk_key(&delete.key)?)),
        (None, None) => Err(Error::internal(
            "DynamoDB returned an empty unprocessed write",
        )),
    }
}
