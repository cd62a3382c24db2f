//! Lambda entry point of the HTTP API.

use lambda_http::{service_fn, Error, Request};
use mec_api::settings::ApiSettings;
use mec_api::{handle_http, Api};
use mec_shared::lambda;
use mec_shared::status::Environments;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_logging();
    let settings = ApiSettings::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let api = Api::new(Environments::new(
        aws_sdk_sfn::Client::new(&config),
        settings.machines,
    ));
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle_http(api, request).await)
    }))
    .await
}
