//! One module per subcommand: gather inputs, call plan/run, print.

pub mod cloud;
pub mod demo;
pub mod rotate;
pub mod send;
pub mod setup;
pub mod status;
pub mod teardown;
pub mod verify;
