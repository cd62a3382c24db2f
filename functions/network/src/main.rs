//! Lambda entry point of the network step.

use mec_shared::{lambda, Aws};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let aws = Aws::from_env().await;
    lambda::serve(|event| mec_network::handle(&aws, event)).await
}
