//! Lambda entry point of the reaper, started by its own schedule.

use mec_shared::{lambda, Aws, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let config = mec_shared::aws::load_config().await;
    let clients = mec_reaper::Clients {
        aws: Aws::from_config(&config),
        sfn: aws_sdk_sfn::Client::new(&config),
    };
    let settings = Settings::from_env()?;
    lambda::serve(|event| mec_reaper::handle(&clients, &settings, event)).await
}
