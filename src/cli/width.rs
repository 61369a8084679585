//! The one width rule of every table `rubric` prints.

/// The width when stdout is not a terminal and `COLUMNS` does not give one.
pub const PIPE_WIDTH: usize = 100;

/// The width tables are laid out to: the terminal's when stdout is a terminal, else `COLUMNS`
/// when it is a positive whole number, else [`PIPE_WIDTH`].
pub fn output_width() -> usize {
    // comfy-table asks the terminal only when stdout is one: piped, this is `None`.
    let terminal = comfy_table::Table::new().width();
    choose(terminal, std::env::var("COLUMNS").ok().as_deref())
}

/// [`output_width`] from the terminal's width (when stdout is one) and `COLUMNS`.
fn choose(terminal: Option<u16>, columns: Option<&str>) -> usize {
    terminal
        .map(usize::from)
        .filter(|&w| w > 0)
        .or_else(|| columns?.trim().parse().ok().filter(|&w: &usize| w > 0))
        .unwrap_or(PIPE_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_then_columns_then_the_pipe_default() {
        assert_eq!(choose(Some(87), Some("200")), 87);
        assert_eq!(choose(None, Some("200")), 200);
        assert_eq!(choose(Some(0), Some("64")), 64);
        for bad in ["", "0", "-5", "wide", "80x"] {
            assert_eq!(choose(None, Some(bad)), PIPE_WIDTH, "{bad:?}");
        }
        assert_eq!(choose(None, None), PIPE_WIDTH);
    }
}
