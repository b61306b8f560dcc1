//! `training_plot.png`: training loss (top) and validation Spearman (bottom) over the steps.
//!
//! A small rasteriser (lines, rectangles and an 8×8 bitmap font) written straight to PNG keeps
//! the trainer free of font and graphics-stack dependencies, which a headless training box may
//! not have.

use std::path::Path;

use font8x8::legacy::BASIC_LEGACY;

use crate::error::{Error, Result};

const WIDTH: usize = 900;
const PANEL_HEIGHT: usize = 300;
const MARGIN_LEFT: usize = 80;
const MARGIN_RIGHT: usize = 20;
const MARGIN_TOP: usize = 30;
const MARGIN_BOTTOM: usize = 40;

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];
const BLUE: Rgb = [31, 119, 180];
const ORANGE: Rgb = [230, 120, 20];

/// One titled series of `(step, value)` points.
pub struct Series<'a> {
    pub title: &'a str,
    pub points: &'a [(f64, f64)],
}

struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![WHITE; width * height],
        }
    }

    fn set(&mut self, x: i64, y: i64, color: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = color;
        }
    }

    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), color: Rgb, thick: bool) {
        // Bresenham; thick lines also paint the pixel below and to the right.
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, color);
            if thick {
                self.set(x + 1, y, color);
                self.set(x, y + 1, color);
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn text(&mut self, x: i64, y: i64, text: &str, color: Rgb) {
        for (i, c) in text.chars().enumerate() {
            let glyph = BASIC_LEGACY[(c as usize).min(127)];
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.set(x + (i * 8 + col) as i64, y + row as i64, color);
                    }
                }
            }
        }
    }

    fn panel(&mut self, top: usize, series: &Series<'_>, x_range: (f64, f64), color: Rgb) {
        let (left, right) = (MARGIN_LEFT as i64, (self.width - MARGIN_RIGHT) as i64);
        let (y_top, y_bottom) = (
            (top + MARGIN_TOP) as i64,
            (top + PANEL_HEIGHT - MARGIN_BOTTOM) as i64,
        );
        self.text(left, top as i64 + 10, series.title, BLACK);
        let finite: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let (mut lo, mut hi) = finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| {
                (lo.min(y), hi.max(y))
            });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-9 {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        let pad = (hi - lo) * 0.05;
        let (lo, hi) = (lo - pad, hi + pad);
        let to_px = |(x, y): (f64, f64)| -> (i64, i64) {
            let fx = (x - x_range.0) / (x_range.1 - x_range.0).max(1e-9);
            let fy = (y - lo) / (hi - lo);
            (
                left + (fx * (right - left) as f64).round() as i64,
                y_bottom - (fy * (y_bottom - y_top) as f64).round() as i64,
            )
        };
        for k in 0..=4 {
            let value = lo + (hi - lo) * k as f64 / 4.0;
            let (_, y) = to_px((x_range.0, value));
            self.line((left, y), (right, y), GRID, false);
            let label = format!("{value:>8.4}");
            self.text(left - 8 - 8 * label.len() as i64, y - 4, &label, BLACK);
        }
        for k in 0..=4 {
            let step = x_range.0 + (x_range.1 - x_range.0) * k as f64 / 4.0;
            let (x, _) = to_px((step, lo));
            self.line((x, y_top), (x, y_bottom), GRID, false);
            let label = format!("{}", step.round() as i64);
            self.text(x - 4 * label.len() as i64, y_bottom + 8, &label, BLACK);
        }
        self.line((left, y_top), (left, y_bottom), BLACK, false);
        self.line((left, y_bottom), (right, y_bottom), BLACK, false);
        self.text(right - 32, y_bottom + 22, "step", BLACK);
        let pixels: Vec<(i64, i64)> = finite.iter().map(|&p| to_px(p)).collect();
        for pair in pixels.windows(2) {
            self.line(pair[0], pair[1], color, true);
        }
        for &(x, y) in &pixels {
            for (dx, dy) in [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)] {
                self.set(x + dx, y + dy, color);
            }
        }
    }
}

/// Draws `loss` and `eval` one above the other, sharing the step axis, and writes a PNG.
pub fn write_training_plot(path: &Path, loss: &Series<'_>, eval: &Series<'_>) -> Result<()> {
    let steps = loss.points.iter().chain(eval.points).map(|p| p.0);
    let (first, last) = steps.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
        (a.min(s), b.max(s))
    });
    let x_range = if first.is_finite() && last > first {
        (first, last)
    } else {
        (0.0, 1.0)
    };
    let mut canvas = Canvas::new(WIDTH, 2 * PANEL_HEIGHT);
    canvas.panel(0, loss, x_range, BLUE);
    canvas.panel(PANEL_HEIGHT, eval, x_range, ORANGE);
    encode_png(path, &canvas)
}

fn encode_png(path: &Path, canvas: &Canvas) -> Result<()> {
    let fail = |message: String| Error::Output {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::create(path).map_err(crate::error::io_error(path))?;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        canvas.width as u32,
        canvas.height as u32,
    );
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| fail(format!("writing PNG header: {e}")))?;
    let bytes: Vec<u8> = canvas.pixels.iter().flatten().copied().collect();
    writer
        .write_image_data(&bytes)
        .map_err(|e| fail(format!("writing PNG data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_with_both_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plot.png");
        let loss: Vec<(f64, f64)> = (1..=50).map(|s| (s as f64, 2.0 / s as f64)).collect();
        let eval = [(0.0, 0.80), (25.0, 0.83), (50.0, 0.84)];
        write_training_plot(
            &path,
            &Series {
                title: "training loss",
                points: &loss,
            },
            &Series {
                title: "validation spearman",
                points: &eval,
            },
        )
        .unwrap();
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width as usize, WIDTH);
        assert_eq!(reader.info().height as usize, 2 * PANEL_HEIGHT);
    }
}
