//! Placeholder until the reader and classifier land.
use crate::{Document, Options, RejectKind, Rejection, Source, SourceError};
use std::io::Read;

pub(crate) fn run<R: Read>(mut input: R, source: Source, _options: &Options) -> Result<Document, SourceError> {
    let mut buf = Vec::new();
    input.read_to_end(&mut buf).map_err(SourceError)?;
    Ok(Document::rejected(source, Rejection { kind: RejectKind::NotCcpLog, message: "not implemented yet".into(), offset: None, entry: None }))
}
