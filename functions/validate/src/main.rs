//! Lambda entry point of the validate step.

use mec_shared::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    lambda::serve(|event| async move { mec_validate::handle(event) }).await
}
