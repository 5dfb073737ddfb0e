//! Output formats: pure writers from a [`Document`](crate::Document) to
//! bytes, one module per format. Adapters pick one; none of them reads a log.

pub mod html;
pub mod json;
pub mod table;
