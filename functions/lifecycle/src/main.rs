//! Lambda entry point of the lifecycle step.

use mec_shared::{lambda, Aws, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let aws = Aws::from_env().await;
    let settings = Settings::from_env()?;
    lambda::serve(|event| mec_lifecycle::handle(&aws, &settings, event)).await
}
