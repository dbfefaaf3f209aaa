//! Helpers of the extension tests: a Lambda Runtime API emulator and a proxy that makes
//! CloudWatch slow.
pub(crate) mod delay_proxy;
pub(crate) mod runtime_api;
