//! The S3-triggered Lambda adapter (feature `lambda`).
