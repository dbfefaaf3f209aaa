//! Against moto.
