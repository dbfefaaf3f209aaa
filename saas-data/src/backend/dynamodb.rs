//! The DynamoDB backend.
