//! The upload API's Lambda entry point. All logic is in
//! `ccp_disconnect_lambda::upload`.

#![forbid(unsafe_code)]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    ccp_disconnect_lambda::upload::run().await
}
