//! What every mec Lambda shares: the spec and record contracts, one error type with stable
//! names, tags and names, and the AWS helpers that more than one step needs.

pub mod aws;
pub mod catalogue;
pub mod cidr;
pub mod commands;
pub mod consistency;
pub mod deadline;
pub mod edge;
#[cfg(feature = "environments")]
pub mod environments;
pub mod error;
pub mod expiry;
pub mod input;
pub mod instances;
pub mod inventory;
pub mod lambda;
pub mod launch;
pub mod model;
pub mod naming;
pub mod parameters;
pub mod record;
#[cfg(feature = "environments")]
pub mod registry;
pub mod resource;
pub mod settings;
pub mod spec;
pub mod tags;
pub mod ttl;
pub mod user_data;
pub mod zones;

pub use aws::Aws;
pub use error::MecError;
pub use settings::Settings;
pub use spec::EnvironmentSpec;
