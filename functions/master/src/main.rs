//! Lambda entry point of the master step.

// The launch future (RunInstances with its fallbacks and consistency retries) is deep enough to
// pass rustc's default query depth when laid out.
#![recursion_limit = "256"]

use mec_shared::{lambda, Aws, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let aws = Aws::from_env().await;
    let settings = Settings::from_env()?;
    lambda::serve(|event| mec_master::handle(&aws, &settings, event)).await
}
