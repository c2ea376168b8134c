//! `flood-client placement up|down TAG` (hidden): the namespaces of `--placement split`,
//! made and left in place for bench/lib.sh's two-hosts placement, whose scripts start their
//! servers and clients in them themselves — so the product and the bench share one way of
//! making them (setup/placement.rs).

use std::io;
use std::process::ExitCode;

use crate::cli::{PlacementAction, PlacementArgs};
use crate::report::stdout::Printer;
use crate::setup::placement::Split;

/// Makes (printing "SERVER_NS CLIENT_NS SERVER_IP") or removes the namespaces of `TAG`.
pub(crate) fn command(args: &PlacementArgs) -> io::Result<ExitCode> {
    match args.action {
        PlacementAction::Up => {
            let made = Split::make(&args.tag)?.keep();
            Printer::new(false, false, false).report(&made, &())?;
        }
        PlacementAction::Down => Split::remove(&args.tag)?,
    }
    Ok(ExitCode::SUCCESS)
}
