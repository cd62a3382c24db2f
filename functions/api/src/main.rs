//! Lambda entry point of the HTTP API.

use lambda_http::{service_fn, Error, Request};
use mec_api::settings::ApiSettings;
use mec_api::{handle_http, Api};
use mec_shared::environments::Environments;
use mec_shared::lambda;
use mec_shared::registry::Registry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_logging();
    let settings = ApiSettings::from_env()?;
    let config = mec_shared::aws::load_config().await;
    let api = Api::new(
        Environments::new(
            aws_sdk_sfn::Client::new(&config),
            Registry::new(
                aws_sdk_dynamodb::Client::new(&config),
                settings.registry_table,
            ),
            settings.machines,
        )
        .with_zone_checks(aws_sdk_ec2::Client::new(&config)),
    );
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle_http(api, request).await)
    }))
    .await
}
