//! # cx-pdf
//!
//! PDF reports for cxscore: a page flow of titles, text, tiles, tables and the
//! dashboard's own SVG charts (drawn as vectors through krilla-svg, so the PDF
//! shows exactly the charts of the HTML report). Text needs one font that has
//! Chinese and Latin glyphs; [`find_font`] looks for the usual system fonts
//! (WenQuanYi, Noto CJK, PingFang, Microsoft YaHei) or takes a file.
//!
//! Kept in its own crate: krilla, usvg and their font stack are a build cost
//! only the report needs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla_svg::{SurfaceExt, SvgSettings};

/// What goes on the pages, top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// The report's title.
    Title(String),
    /// A section heading.
    Heading(String),
    /// A paragraph (wrapped to the page width).
    Text(String),
    /// Small grey text (sources, notes).
    Note(String),
    /// Figures side by side: (label, value, detail lines).
    Tiles(Vec<(String, String, Vec<String>)>),
    /// An SVG chart as the HTML report has it.
    Svg(String),
    /// A table: header and rows (cells are cut to fit their column).
    Table(Vec<String>, Vec<Vec<String>>),
}

/// Why no PDF was made.
#[derive(Debug)]
pub enum PdfError {
    /// No usable font was found.
    NoFont(String),
    /// The PDF library refused.
    Render(String),
}

impl std::fmt::Display for PdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PdfError::NoFont(m) | PdfError::Render(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for PdfError {}

/// Fonts with Chinese and Latin glyphs, where systems keep them.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\simhei.ttf",
];

/// The font file to use: `explicit`, else `CXSCORE_PDF_FONT`, else the first
/// system font of [`FONT_PATHS`] that exists.
pub fn find_font(explicit: Option<&Path>) -> Result<(PathBuf, Vec<u8>), PdfError> {
    let from_env = std::env::var_os("CXSCORE_PDF_FONT").map(PathBuf::from);
    let candidates: Vec<PathBuf> = match explicit.map(Path::to_path_buf).or(from_env) {
        Some(p) => vec![p],
        None => FONT_PATHS.iter().map(PathBuf::from).collect(),
    };
    for path in &candidates {
        if let Ok(bytes) = std::fs::read(path) {
            if Font::new(bytes.clone().into(), 0).is_none() {
                return Err(PdfError::NoFont(format!(
                    "{} is not a font file (TTF, OTF or TTC)",
                    path.display()
                )));
            }
            return Ok((path.clone(), bytes));
        }
    }
    Err(PdfError::NoFont(match explicit {
        Some(p) => format!("cannot read the font {}", p.display()),
        None => "a PDF needs a font with Chinese characters: install fonts-wqy-microhei or fonts-noto-cjk (Debian/Ubuntu), or give one with --font FILE / CXSCORE_PDF_FONT".into(),
    }))
}

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 42.0;

/// Width of `text` at `size`, estimated (CJK full width, Latin about half).
fn text_width(text: &str, size: f32) -> f32 {
    text.chars()
        .map(|c| if c.is_ascii() { 0.55 } else { 1.0 })
        .sum::<f32>()
        * size
}

/// `text` cut to `width` with an ellipsis.
fn fit(text: &str, width: f32, size: f32) -> String {
    if text_width(text, size) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if text_width(&out, size) + text_width(&c.to_string(), size) + size > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// Lines of `text` wrapped to `width` (at spaces for Latin, anywhere for CJK).
fn wrap(text: &str, width: f32, size: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_inclusive(' ') {
            if text_width(&line, size) + text_width(word, size) <= width {
                line.push_str(word);
                continue;
            }
            if !line.is_empty() {
                lines.push(line.trim_end().to_string());
                line = String::new();
            }
            for c in word.chars() {
                if text_width(&line, size) + text_width(&c.to_string(), size) > width {
                    lines.push(std::mem::take(&mut line));
                }
                line.push(c);
            }
        }
        lines.push(line.trim_end().to_string());
    }
    lines
}

struct Flow<'a> {
    doc: &'a mut Document,
    font: Font,
    svg: usvg::Options<'static>,
    pages: Vec<Vec<Op>>,
    y: f32,
}

/// What is drawn on a page, recorded first so pages can be filled in order.
enum Op {
    Text(f32, f32, f32, String, (u8, u8, u8)),
    Rect(f32, f32, f32, f32, (u8, u8, u8)),
    Svg(f32, f32, f32, f32, Arc<usvg::Tree>),
}

impl Flow<'_> {
    fn need(&mut self, height: f32) {
        if self.pages.is_empty() || self.y + height > HEIGHT - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn op(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    fn text(&mut self, x: f32, size: f32, text: &str, color: (u8, u8, u8)) {
        let y = self.y + size;
        self.op(Op::Text(x, y, size, text.to_string(), color));
    }

    fn block(&mut self, b: &Block) -> Result<(), PdfError> {
        let inner = WIDTH - 2.0 * MARGIN;
        let ink = (27, 31, 36);
        let muted = (74, 82, 96);
        match b {
            Block::Title(t) => {
                self.need(30.0);
                self.text(MARGIN, 20.0, &fit(t, inner, 20.0), ink);
                self.y += 30.0;
            }
            Block::Heading(t) => {
                self.need(40.0);
                self.y += 8.0;
                self.text(MARGIN, 13.0, &fit(t, inner, 13.0), ink);
                self.y += 20.0;
            }
            Block::Text(t) | Block::Note(t) => {
                let (size, color) = match b {
                    Block::Note(_) => (8.5, muted),
                    _ => (10.0, ink),
                };
                for line in wrap(t, inner, size) {
                    self.need(size * 1.5);
                    self.text(MARGIN, size, &line, color);
                    self.y += size * 1.5;
                }
                self.y += 4.0;
            }
            Block::Tiles(tiles) => {
                let per_row = 3usize;
                let w = (inner - 10.0 * (per_row as f32 - 1.0)) / per_row as f32;
                for row in tiles.chunks(per_row) {
                    // Detail lines wrap inside the tile rather than being cut.
                    let wrapped: Vec<Vec<String>> = row
                        .iter()
                        .map(|t| t.2.iter().flat_map(|d| wrap(d, w - 16.0, 8.5)).collect())
                        .collect();
                    let lines = wrapped.iter().map(Vec::len).max().unwrap_or(0) as f32;
                    let h = 46.0 + 12.0 * lines;
                    self.need(h + 8.0);
                    for (i, ((label, value, _), detail)) in row.iter().zip(&wrapped).enumerate() {
                        let x = MARGIN + i as f32 * (w + 10.0);
                        self.op(Op::Rect(x, self.y, w, h, (243, 245, 248)));
                        let top = self.y;
                        self.y = top + 6.0;
                        self.text(x + 8.0, 9.0, &fit(label, w - 16.0, 9.0), muted);
                        self.y = top + 18.0;
                        self.text(x + 8.0, 18.0, &fit(value, w - 16.0, 18.0), ink);
                        for (k, d) in detail.iter().enumerate() {
                            self.y = top + 42.0 + 12.0 * k as f32;
                            self.text(x + 8.0, 8.5, d, muted);
                        }
                        self.y = top;
                    }
                    self.y += h + 8.0;
                }
            }
            Block::Svg(source) => {
                let tree = usvg::Tree::from_str(source, &self.svg)
                    .map_err(|e| PdfError::Render(format!("chart: {e}")))?;
                let (sw, sh) = (tree.size().width(), tree.size().height());
                let w = inner.min(sw);
                let h = sh * w / sw;
                self.need(h + 8.0);
                self.op(Op::Svg(MARGIN, self.y, w, h, Arc::new(tree)));
                self.y += h + 8.0;
            }
            Block::Table(header, rows) => {
                let cols = header.len().max(1);
                // The first column (the group) gets twice the room.
                let unit = inner / (cols as f32 + 1.0);
                let xs: Vec<f32> = (0..cols)
                    .map(|i| MARGIN + if i == 0 { 0.0 } else { unit * (i as f32 + 1.0) })
                    .collect();
                let widths: Vec<f32> = (0..cols)
                    .map(|i| if i == 0 { unit * 2.0 } else { unit })
                    .collect();
                let draw_row = |flow: &mut Flow<'_>, cells: &[String], color, shade: bool| {
                    flow.need(15.0);
                    if shade {
                        flow.op(Op::Rect(MARGIN, flow.y, inner, 15.0, (236, 239, 243)));
                    }
                    flow.y += 3.0;
                    for (i, c) in cells.iter().enumerate().take(cols) {
                        flow.text(xs[i] + 2.0, 8.5, &fit(c, widths[i] - 6.0, 8.5), color);
                    }
                    flow.y += 12.0;
                };
                draw_row(self, header, muted, true);
                for r in rows {
                    draw_row(self, r, ink, false);
                }
                self.y += 6.0;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), PdfError> {
        let settings = PageSettings::from_wh(WIDTH, HEIGHT)
            .ok_or_else(|| PdfError::Render("page size".into()))?;
        for ops in self.pages {
            let mut page = self.doc.start_page_with(settings.clone());
            let mut surface = page.surface();
            for op in ops {
                draw(&mut surface, &self.font, op);
            }
            surface.finish();
            page.finish();
        }
        Ok(())
    }
}

fn fill((r, g, b): (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

fn draw(surface: &mut Surface<'_>, font: &Font, op: Op) {
    match op {
        Op::Text(x, y, size, text, color) => {
            surface.set_fill(Some(fill(color)));
            surface.draw_text(
                Point::from_xy(x, y),
                font.clone(),
                size,
                &text,
                false,
                TextDirection::Auto,
            );
        }
        Op::Rect(x, y, w, h, color) => {
            let mut pb = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(x, y, w, h) {
                pb.push_rect(rect);
            }
            if let Some(path) = pb.finish() {
                surface.set_fill(Some(fill(color)));
                surface.draw_path(&path);
            }
        }
        Op::Svg(x, y, w, h, tree) => {
            if let Some(size) = Size::from_wh(w, h) {
                surface.push_transform(&Transform::from_translate(x, y));
                surface.draw_svg(&tree, size, SvgSettings::default());
                surface.pop();
            }
        }
    }
}

/// The PDF of `blocks`, with `font` (the bytes of a TTF/OTF/TTC file) for all text.
pub fn render(blocks: &[Block], font: Vec<u8>) -> Result<Vec<u8>, PdfError> {
    let data = Arc::new(font);
    let pdf_font = Font::new(data.clone().into(), 0)
        .ok_or_else(|| PdfError::NoFont("the font file cannot be read".into()))?;
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(data.as_ref().clone());
    let family = db
        .faces()
        .next()
        .and_then(|f| f.families.first().map(|(name, _)| name.clone()))
        .unwrap_or_default();
    db.set_sans_serif_family(family.clone());
    db.set_serif_family(family.clone());
    let svg = usvg::Options {
        font_family: family,
        fontdb: Arc::new(db),
        ..usvg::Options::default()
    };
    let mut doc = Document::new();
    let mut flow = Flow {
        doc: &mut doc,
        font: pdf_font,
        svg,
        pages: Vec::new(),
        y: MARGIN,
    };
    for b in blocks {
        flow.block(b)?;
    }
    if flow.pages.is_empty() {
        flow.need(0.0);
    }
    flow.finish()?;
    doc.finish()
        .map_err(|e| PdfError::Render(format!("PDF: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_and_fitting() {
        let lines = wrap("the quick brown fox jumps over the lazy dog", 60.0, 10.0);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(
            lines.iter().all(|l| text_width(l, 10.0) <= 60.0 + 1e-3),
            "{lines:?}"
        );
        let zh = wrap("客户满意度调查报告按区域和季度汇总", 50.0, 10.0);
        assert!(zh.iter().all(|l| l.chars().count() <= 5), "{zh:?}");
        assert_eq!(fit("short", 100.0, 10.0), "short");
        assert!(fit("a much longer label than fits", 50.0, 10.0).ends_with('…'));
    }

    #[test]
    fn a_pdf_with_text_tiles_table_and_a_chart() {
        let Ok((_, font)) = find_font(None) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI installs fonts-wqy-microhei"
            );
            eprintln!("no CJK font here: PDF test skipped");
            return;
        };
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100" viewBox="0 0 400 100"><rect x="10" y="10" width="100" height="50" fill="#0b5cad"/><text x="10" y="90" font-size="12">华东 NPS</text></svg>"##;
        let blocks = vec![
            Block::Title("客户满意度 · Customer survey".into()),
            Block::Note("2026-12-01 · region = 华东".into()),
            Block::Tiles(vec![(
                "NPS".into(),
                "23.5".into(),
                vec!["n 412".into(), "[15.7, 31.0]".into()],
            )]),
            Block::Svg(svg.into()),
            Block::Table(
                vec!["region".into(), "n".into(), "NPS".into()],
                vec![vec!["华东".into(), "82".into(), "48.8".into()]],
            ),
            Block::Text("A long paragraph ".repeat(200)),
        ];
        let pdf = render(&blocks, font).expect("pdf");
        if let Some(path) = std::env::var_os("CX_PDF_DUMP") {
            std::fs::write(path, &pdf).expect("dump");
        }
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        let pages = text.matches("/Type/Page").count() - text.matches("/Type/Pages").count();
        assert!(
            pages >= 2,
            "the long text flows onto a second page ({pages})"
        );
        assert!(text.contains("%%EOF"));
    }
}
