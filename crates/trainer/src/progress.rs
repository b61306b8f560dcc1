//! The progress bar: steps, loss, learning rate, rate and ETA on stderr (hidden when stderr is
//! not a terminal, so logs and CI output stay clean).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub fn training_bar(total_steps: u64, start: u64, enabled: bool) -> ProgressBar {
    let bar = if enabled {
        ProgressBar::with_draw_target(Some(total_steps), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    let style = ProgressStyle::with_template(
        "{spinner} {elapsed_precise} [{bar:28}] {pos}/{len} steps · {msg} · {per_sec} · eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_position(start);
    bar.reset_eta();
    bar
}
