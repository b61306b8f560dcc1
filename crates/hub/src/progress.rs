//! Download progress bars.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Files smaller than this download without a bar.
pub(crate) const MIN_BAR_BYTES: u64 = 10 * 1024 * 1024;

const TEMPLATE: &str = "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}";

/// A byte progress bar on stderr for a download of `total` bytes, or a hidden bar when the
/// size is unknown or small, or stderr is not a terminal (logs and CI output stay clean).
pub(crate) fn download_bar(total: Option<u64>, label: &str) -> ProgressBar {
    match total {
        Some(total) if total >= MIN_BAR_BYTES && std::io::stderr().is_terminal() => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(label.to_owned());
            bar
        }
        _ => ProgressBar::hidden(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_or_unknown_downloads_have_no_bar() {
        assert!(download_bar(None, "x").is_hidden());
        assert!(download_bar(Some(1024), "x").is_hidden());
    }

    #[test]
    fn large_downloads_show_a_bar_only_on_a_terminal() {
        let bar = download_bar(Some(MIN_BAR_BYTES * 2), "x");
        assert_eq!(bar.is_hidden(), !std::io::stderr().is_terminal());
        bar.finish_and_clear();
    }

    #[test]
    fn template_parses() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
    }
}
