//! Lambda entry point of the validate step.

use mec_shared::{lambda, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let settings = Settings::from_env()?;
    lambda::serve(|event| {
        let settings = &settings;
        async move { mec_validate::handle(settings, event) }
    })
    .await
}
