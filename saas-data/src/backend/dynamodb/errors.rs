//! SDK errors as the crate's errors: classified by DynamoDB's error code, never echoing the
//! service's message (it may quote key values).

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;

use super::convert::from_sdk_item;
use crate::backend::BackendError;
use crate::error::{BoxError, Error};
use crate::item::MAX_ITEM_SIZE;

/// What a failure means, before it becomes an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// Retry later: throttled, or conflicting with a transaction in progress.
    Throttled,
    /// The table does not exist (or is not active).
    TableNotFound,
    /// An item over 400 KB.
    ItemTooLarge,
    /// Any other validation error.
    Invalid,
    /// The service could not answer (5xx).
    Unavailable,
    /// Anything else.
    Internal,
}

/// Classifies a service error by its code, its message (only to recognise item size errors)
/// and its HTTP status.
pub(super) fn classify(code: Option<&str>, message: Option<&str>, status: Option<u16>) -> Class {
    match code {
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TransactionConflictException"
            | "ReplicatedWriteConflictException",
        ) => Class::Throttled,
        Some("ResourceNotFoundException") => Class::TableNotFound,
        Some("ValidationException") if message.is_some_and(is_item_size) => Class::ItemTooLarge,
        Some("ValidationException") => Class::Invalid,
        _ if status.is_some_and(|s| (500..600).contains(&s)) => Class::Unavailable,
        _ => Class::Internal,
    }
}

/// Whether a validation message is DynamoDB's "item too large".
fn is_item_size(message: &str) -> bool {
    message.contains("Item size has exceeded")
        || message.contains("Item size to update has exceeded")
}

/// The crate's error for a class, keeping `source` where the variant has one.
fn error(class: Class, source: BoxError) -> Error {
    match class {
        Class::Throttled => Error::Throttled(source),
        Class::TableNotFound => Error::Unavailable(Box::new(Context {
            what: "table not found",
            source,
        })),
        Class::ItemTooLarge => Error::ItemTooLarge {
            size: None,
            limit: MAX_ITEM_SIZE,
        },
        Class::Invalid => Error::invalid_request("DynamoDB refused the request as invalid"),
        Class::Unavailable => Error::Unavailable(source),
        Class::Internal => Error::Internal(source),
    }
}

/// A fixed description in front of an underlying error.
#[derive(Debug)]
struct Context {
    what: &'static str,
    source: BoxError,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }
}

impl StdError for Context {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// Any failed call: service errors by their code; dispatch failures and timeouts are
/// `Unavailable`, as are unreadable 5xx responses; the rest is `Internal`.
pub(super) fn sdk_error<E>(err: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let class = match &err {
        SdkError::ServiceError(ctx) => classify(
            ctx.err().code(),
            ctx.err().message(),
            Some(ctx.raw().status().as_u16()),
        ),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Class::Unavailable,
        SdkError::ResponseError(ctx) if ctx.raw().status().is_server_error() => Class::Unavailable,
        _ => Class::Internal,
    };
    error(class, Box::new(err))
}

/// The service error's code, if the call got that far.
pub(super) fn code<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// Operation errors that can carry a failed condition.
pub(super) trait ConditionalError:
    ProvideErrorMetadata + StdError + Send + Sync + 'static
{
    fn condition_failed(&self) -> Option<&ConditionalCheckFailedException>;
}

macro_rules! conditional_error {
    ($($ty:ty),*) => {$(
        impl ConditionalError for $ty {
            fn condition_failed(&self) -> Option<&ConditionalCheckFailedException> {
                match self {
                    Self::ConditionalCheckFailedException(e) => Some(e),
                    _ => None,
                }
            }
        }
    )*};
}

conditional_error!(PutItemError, UpdateItemError, DeleteItemError);

/// A failed put, update or delete: a failed condition with the stored item
/// (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), or another error.
pub(super) fn write_error<E: ConditionalError>(err: SdkError<E>) -> BackendError {
    let failed = err
        .as_service_error()
        .and_then(ConditionalError::condition_failed);
    match failed {
        Some(e) => match e.item.clone().map(from_sdk_item).transpose() {
            Ok(old) => BackendError::ConditionFailed { old },
            Err(e) => BackendError::Other(e),
        },
        None => BackendError::Other(sdk_error(err)),
    }
}

/// A failed `TransactWriteItems`: a cancellation is read from its reasons, anything else as
/// any call.
pub(super) fn transaction_error(err: SdkError<TransactWriteItemsError>) -> BackendError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() {
        return cancelled(e.cancellation_reasons.clone().unwrap_or_default());
    }
    BackendError::Other(sdk_error(err))
}

/// Why a transaction was cancelled, from its reasons (one per action, in order): the first
/// failed condition names its action; then item size, other validation errors, conflicts and
/// throttling; anything else is internal.
pub(super) fn cancelled(reasons: Vec<CancellationReason>) -> BackendError {
    let code = |r: &CancellationReason| r.code.clone().unwrap_or_default();
    if let Some(index) = reasons
        .iter()
        .position(|r| code(r) == "ConditionalCheckFailed")
    {
        let item = reasons.into_iter().nth(index).and_then(|r| r.item);
        return match item.map(from_sdk_item).transpose() {
            Ok(old) => BackendError::TransactionConditionFailed { index, old },
            Err(e) => BackendError::Other(e),
        };
    }
    let codes: Vec<String> = reasons.iter().map(code).collect();
    let has = |c: &str| codes.iter().any(|x| x == c);
    let too_large = reasons.iter().any(|r| {
        r.code.as_deref() == Some("ValidationError")
            && r.message.as_deref().is_some_and(is_item_size)
    });
    let class = if too_large {
        Class::ItemTooLarge
    } else if has("ValidationError") {
        Class::Invalid
    } else if has("TransactionConflict")
        || has("ProvisionedThroughputExceeded")
        || has("ThrottlingError")
    {
        Class::Throttled
    } else {
        Class::Internal
    };
    let summary = codes
        .iter()
        .filter(|c| !c.is_empty() && *c != "None")
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    BackendError::Other(error(
        class,
        format!("transaction cancelled: {summary}").into(),
    ))
}

/// A request the SDK could not build: a bug of this backend.
pub(super) fn build_error(e: BuildError) -> Error {
    Error::Internal(Box::new(e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::collections::HashMap;

    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::types::AttributeValue as SdkValue;

    use super::*;

    fn service<E>(err: E, status: u16) -> SdkError<E> {
        SdkError::service_error(
            err,
            aws_sdk_dynamodb::config::http::HttpResponse::new(
                status.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            ),
        )
    }

    fn generic(code: &str, message: &str, status: u16) -> SdkError<PutItemError> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        service(PutItemError::generic(meta), status)
    }

    fn old_item() -> HashMap<String, SdkValue> {
        HashMap::from([
            ("_pk".to_owned(), SdkValue::S("t#p".into())),
            ("_version".to_owned(), SdkValue::N("3".into())),
        ])
    }

    #[test]
    fn classes() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TransactionConflictException",
        ] {
            assert_eq!(classify(Some(code), None, Some(400)), Class::Throttled);
        }
        assert_eq!(
            classify(Some("ResourceNotFoundException"), Some("x"), Some(400)),
            Class::TableNotFound
        );
        for msg in [
            "Item size has exceeded the maximum allowed size",
            "Item size to update has exceeded the maximum allowed size",
        ] {
            assert_eq!(
                classify(Some("ValidationException"), Some(msg), Some(400)),
                Class::ItemTooLarge
            );
        }
        assert_eq!(
            classify(Some("ValidationException"), Some("key t#secret"), Some(400)),
            Class::Invalid
        );
        assert_eq!(
            classify(Some("InternalServerError"), None, Some(500)),
            Class::Unavailable
        );
        assert_eq!(classify(None, None, Some(503)), Class::Unavailable);
        assert_eq!(
            classify(Some("AccessDeniedException"), None, Some(400)),
            Class::Internal
        );
    }

    #[test]
    fn sdk_errors_become_crate_errors() {
        let e = sdk_error(generic("ThrottlingException", "slow down", 400));
        assert!(matches!(e, Error::Throttled(_)) && e.is_retryable());
        let e = sdk_error(generic("ResourceNotFoundException", "no table", 400));
        assert!(matches!(&e, Error::Unavailable(s) if s.to_string() == "table not found"));
        let e = sdk_error(generic(
            "ValidationException",
            "Item size has exceeded the maximum allowed size",
            400,
        ));
        assert!(matches!(
            e,
            Error::ItemTooLarge {
                size: None,
                limit: MAX_ITEM_SIZE
            }
        ));
        let e = sdk_error(generic(
            "ValidationException",
            "One or more parameter values were invalid: tenant-a#secret",
            400,
        ));
        match e {
            Error::InvalidRequest(m) => assert!(!m.contains("secret"), "{m}"),
            other => panic!("{other:?}"),
        }
        let e = sdk_error(generic("InternalServerError", "oops", 500));
        assert!(matches!(e, Error::Unavailable(_)));
        let e = sdk_error(generic("UnrecognizedClientException", "who", 400));
        assert!(matches!(e, Error::Internal(_)));
        let e = sdk_error(SdkError::<PutItemError>::timeout_error("slow"));
        assert!(matches!(e, Error::Unavailable(_)));
        let e = sdk_error(SdkError::<PutItemError>::dispatch_failure(
            aws_sdk_dynamodb::error::ConnectorError::io("refused".into()),
        ));
        assert!(matches!(e, Error::Unavailable(_)));
        let e = sdk_error(SdkError::<PutItemError>::construction_failure("bad"));
        assert!(matches!(e, Error::Internal(_)));
        assert_eq!(
            code(&generic("ThrottlingException", "", 400)),
            Some("ThrottlingException")
        );
    }

    #[test]
    fn condition_failures_carry_the_old_item() {
        let failed = ConditionalCheckFailedException::builder()
            .message("The conditional request failed")
            .set_item(Some(old_item()))
            .build();
        match write_error(service(
            PutItemError::ConditionalCheckFailedException(failed),
            400,
        )) {
            BackendError::ConditionFailed { old: Some(old) } => {
                assert_eq!(
                    old.get("_version"),
                    Some(&serde_dynamo::AttributeValue::N("3".into()))
                );
            }
            other => panic!("{other:?}"),
        }
        let failed = ConditionalCheckFailedException::builder().build();
        assert!(matches!(
            write_error(service(
                DeleteItemError::ConditionalCheckFailedException(failed),
                400
            )),
            BackendError::ConditionFailed { old: None }
        ));
        let meta = ErrorMetadata::builder().code("ThrottlingException").build();
        assert!(matches!(
            write_error(service(UpdateItemError::generic(meta), 400)),
            BackendError::Other(Error::Throttled(_))
        ));
    }

    fn reason(code: &str, message: Option<&str>) -> CancellationReason {
        CancellationReason::builder()
            .code(code)
            .set_message(message.map(str::to_owned))
            .build()
    }

    #[test]
    fn cancellation_reasons() {
        let with_item = CancellationReason::builder()
            .code("ConditionalCheckFailed")
            .set_item(Some(old_item()))
            .build();
        match cancelled(vec![reason("None", None), reason("None", None), with_item]) {
            BackendError::TransactionConditionFailed {
                index: 2,
                old: Some(old),
            } => {
                assert!(old.contains_key("_version"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cancelled(vec![
                reason("TransactionConflict", None),
                reason("ConditionalCheckFailed", None)
            ]),
            BackendError::TransactionConditionFailed {
                index: 1,
                old: None
            }
        ));
        assert!(matches!(
            cancelled(vec![
                reason("None", None),
                reason("TransactionConflict", None)
            ]),
            BackendError::Other(Error::Throttled(_))
        ));
        assert!(matches!(
            cancelled(vec![reason(
                "ValidationError",
                Some("Item size to update has exceeded the maximum allowed size")
            )]),
            BackendError::Other(Error::ItemTooLarge { .. })
        ));
        assert!(matches!(
            cancelled(vec![reason("ValidationError", Some("t#secret"))]),
            BackendError::Other(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            cancelled(vec![reason("ItemCollectionSizeLimitExceeded", None)]),
            BackendError::Other(Error::Internal(_))
        ));
        assert!(matches!(
            cancelled(Vec::new()),
            BackendError::Other(Error::Internal(_))
        ));
    }

    #[test]
    fn transaction_errors() {
        let cancel = aws_sdk_dynamodb::types::error::TransactionCanceledException::builder()
            .cancellation_reasons(reason("None", None))
            .cancellation_reasons(reason("ConditionalCheckFailed", None))
            .build();
        assert!(matches!(
            transaction_error(service(
                TransactWriteItemsError::TransactionCanceledException(cancel),
                400
            )),
            BackendError::TransactionConditionFailed {
                index: 1,
                old: None
            }
        ));
        let meta = ErrorMetadata::builder()
            .code("ValidationException")
            .message("Item size has exceeded the maximum allowed size")
            .build();
        assert!(matches!(
            transaction_error(service(TransactWriteItemsError::generic(meta), 400)),
            BackendError::Other(Error::ItemTooLarge { .. })
        ));
    }
}
