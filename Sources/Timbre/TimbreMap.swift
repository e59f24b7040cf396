// `timbred map`: a picture of a model's timbre space (PNG or SVG, drawn with cairo).
import CCairo
import Foundation

/// What a timbre map shows: the instruments' components, presets and encoded notes, projected
/// onto the space's two principal directions.
public struct TimbreMap {
    /// A labelled point to draw.
    public struct Marker: Sendable {
        public var label: String
        public var latent: [Float]
        public init(label: String, latent: [Float]) {
            self.label = label
            self.latent = latent
        }
    }

    public let space: TimbreSpace
    public let modelName: String
    /// Presets on disk (drawn as diamonds; labelled unless they sit on their instrument's point).
    public var presets: [Marker] = []
    /// The user's encoded notes (drawn as crosses).
    public var notes: [Marker] = []

    public init(space: TimbreSpace, modelName: String) {
        self.space = space
        self.modelName = modelName
    }

    /// Picture formats.
    public enum Format { case png, svg }

    /// Draws the map into a file.
    /// - Throws: `AnalysisError` naming the file when cairo cannot write it.
    public func write(to path: String, format: Format, width: Int = 1400, height: Int = 1000) throws(AnalysisError) {
        let surface: OpaquePointer
        switch format {
        case .png: surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height))
        case .svg: surface = cairo_svg_surface_create(path, Double(width), Double(height))
        }
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            let why = String(cString: cairo_status_to_string(cairo_surface_status(surface)))
            cairo_surface_destroy(surface)
            throw AnalysisError(path: path, message: "cannot create the picture (\(why))")
        }
        let cr = cairo_create(surface)!
        draw(cr, width: Double(width), height: Double(height))
        cairo_destroy(cr)
        var status = CAIRO_STATUS_SUCCESS
        if format == .png { status = cairo_surface_write_to_png(surface, path) }
        cairo_surface_finish(surface)
        if status == CAIRO_STATUS_SUCCESS { status = cairo_surface_status(surface) }
        cairo_surface_destroy(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw AnalysisError(path: path, message: "cannot write the picture (\(String(cString: cairo_status_to_string(status))))")
        }
    }

    /// Distinct colours for the instruments (hue wheel at fixed lightness).
    static func colour(_ i: Int, of n: Int) -> (Double, Double, Double) {
        let h = Double(i) / Double(max(n, 1)) * 6, s = 0.75, v = 0.72
        let c = v * s, x = c * (1 - abs(h.truncatingRemainder(dividingBy: 2) - 1)), m = v - c
        let (r, g, b): (Double, Double, Double)
        switch Int(h) {
        case 0: (r, g, b) = (c, x, 0)
        case 1: (r, g, b) = (x, c, 0)
        case 2: (r, g, b) = (0, c, x)
        case 3: (r, g, b) = (0, x, c)
        case 4: (r, g, b) = (x, 0, c)
        default: (r, g, b) = (c, 0, x)
        }
        return (r + m, g + m, b + m)
    }

    private func draw(_ cr: OpaquePointer, width: Double, height: Double) {
        let projection = space.projection
        let instrumentPoints = space.means.map { projection.project($0.map(Float.init)) }
        let spread: [(Double, Double)] = space.variances.map { v in
            let sx = zip(projection.axes[0], v).reduce(0) { $0 + $1.0 * $1.0 * $1.1 }.squareRoot()
            let sy = projection.axes.count > 1 ? zip(projection.axes[1], v).reduce(0) { $0 + $1.0 * $1.0 * $1.1 }.squareRoot() : 0
            return (sx, sy)
        }
        let presetPoints = presets.map { projection.project($0.latent) }
        let notePoints = notes.map { projection.project($0.latent) }
        let all = instrumentPoints + presetPoints + notePoints
        var lo = (x: all.map(\.x).min() ?? -1, y: all.map(\.y).min() ?? -1)
        var hi = (x: all.map(\.x).max() ?? 1, y: all.map(\.y).max() ?? 1)
        let padX = max(0.12 * (hi.x - lo.x), 0.3), padY = max(0.12 * (hi.y - lo.y), 0.3)
        lo = (lo.x - padX, lo.y - padY)
        hi = (hi.x + padX, hi.y + padY)
        // plot area
        let left = 110.0, right = width - 300, top = 80.0, bottom = height - 110
        let scale = min((right - left) / (hi.x - lo.x), (bottom - top) / (hi.y - lo.y))  // equal units on both axes
        let cx = 0.5 * (left + right), cy = 0.5 * (top + bottom)
        let mx = 0.5 * (lo.x + hi.x), my = 0.5 * (lo.y + hi.y)
        func px(_ p: (x: Double, y: Double)) -> (Double, Double) { (cx + (p.x - mx) * scale, cy - (p.y - my) * scale) }

        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)

        // grid and axes (unit ticks in latent units)
        let x0 = cx - (mx - lo.x) * scale, x1 = cx + (hi.x - mx) * scale
        let y0 = cy + (my - lo.y) * scale, y1 = cy - (hi.y - my) * scale
        cairo_set_line_width(cr, 1)
        cairo_set_font_size(cr, 12)
        for t in Int(lo.x.rounded(.up))...Int(hi.x.rounded(.down)) {
            let (gx, _) = px((Double(t), 0))
            cairo_set_source_rgb(cr, 0.9, 0.9, 0.9)
            cairo_move_to(cr, gx, y0); cairo_line_to(cr, gx, y1); cairo_stroke(cr)
            cairo_set_source_rgb(cr, 0.35, 0.35, 0.35)
            text(cr, "\(t)", at: (gx, y0 + 16), align: .centre)
        }
        for t in Int(lo.y.rounded(.up))...Int(hi.y.rounded(.down)) {
            let (_, gy) = px((0, Double(t)))
            cairo_set_source_rgb(cr, 0.9, 0.9, 0.9)
            cairo_move_to(cr, x0, gy); cairo_line_to(cr, x1, gy); cairo_stroke(cr)
            cairo_set_source_rgb(cr, 0.35, 0.35, 0.35)
            text(cr, "\(t)", at: (x0 - 8, gy + 4), align: .right)
        }
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2)
        cairo_rectangle(cr, x0, y1, x1 - x0, y0 - y1)
        cairo_stroke(cr)

        // axis titles: what each axis is, and which instruments sit at its ends
        func ends(_ axis: Int) -> (String, String) {
            let values = instrumentPoints.map { axis == 0 ? $0.x : $0.y }
            let iMin = values.indices.min { values[$0] < values[$1] } ?? 0
            let iMax = values.indices.max { values[$0] < values[$1] } ?? 0
            return (space.instruments[iMin].replacingOccurrences(of: "_", with: " "), space.instruments[iMax].replacingOccurrences(of: "_", with: " "))
        }
        let (l0, h0) = ends(0), (l1, h1) = ends(1)
        cairo_set_font_size(cr, 15)
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
        text(cr, "Timbre axis 1 (" + String(format: "%.0f", 100 * projection.explained[0])
             + "% of the spread between instruments): \(l0) ← → \(h0)", at: ((x0 + x1) / 2, y0 + 44), align: .centre)
        cairo_save(cr)
        cairo_translate(cr, x0 - 48, (y0 + y1) / 2)
        cairo_rotate(cr, -Double.pi / 2)
        text(cr, "Timbre axis 2 (" + String(format: "%.0f", 100 * (projection.explained.count > 1 ? projection.explained[1] : 0))
             + "% of the spread): \(l1) ← → \(h1)", at: (0, 0), align: .centre)
        cairo_restore(cr)
        cairo_set_font_size(cr, 20)
        text(cr, "Timbre space of model \"\(modelName)\" (\(space.instruments.count) instruments, \(space.dimensions)-D latent, "
             + "shown on its two principal directions)", at: (left, 40), align: .left)

        // instruments: ellipse of one standard deviation, dot, name
        var placed: [(Double, Double, Double, Double)] = []  // label boxes already used
        for (k, p) in instrumentPoints.enumerated() {
            let (r, g, b) = Self.colour(k, of: instrumentPoints.count)
            let (x, y) = px(p)
            cairo_save(cr)
            cairo_translate(cr, x, y)
            cairo_scale(cr, max(spread[k].0 * scale, 2), max(spread[k].1 * scale, 2))
            cairo_arc(cr, 0, 0, 1, 0, 2 * Double.pi)
            cairo_restore(cr)
            cairo_set_source_rgba(cr, r, g, b, 0.12)
            cairo_fill_preserve(cr)
            cairo_set_source_rgba(cr, r, g, b, 0.5)
            cairo_set_line_width(cr, 1)
            cairo_stroke(cr)
            cairo_arc(cr, x, y, 6, 0, 2 * Double.pi)
            cairo_set_source_rgb(cr, r, g, b)
            cairo_fill(cr)
            placed.append((x - 7, y - 7, 14, 14))
        }
        cairo_set_font_size(cr, 14)
        for (k, p) in instrumentPoints.enumerated() {
            let (r, g, b) = Self.colour(k, of: instrumentPoints.count)
            cairo_set_source_rgb(cr, r * 0.7, g * 0.7, b * 0.7)
            placeLabel(cr, space.instruments[k].replacingOccurrences(of: "_", with: " "), near: px(p), placed: &placed)
        }
        // presets: diamonds; labelled when they are not an instrument's own point
        for (i, p) in presetPoints.enumerated() {
            let (x, y) = px(p)
            cairo_move_to(cr, x, y - 8); cairo_line_to(cr, x + 8, y); cairo_line_to(cr, x, y + 8); cairo_line_to(cr, x - 8, y)
            cairo_close_path(cr)
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.15)
            cairo_set_line_width(cr, 1.5)
            cairo_stroke(cr)
            let onInstrument = instrumentPoints.contains { abs($0.x - p.x) + abs($0.y - p.y) < 1e-3 }
            if !onInstrument {
                cairo_set_font_size(cr, 13)
                placeLabel(cr, "◆ " + presets[i].label, near: (x, y), placed: &placed)
            }
        }
        // encoded notes: crosses
        for (i, p) in notePoints.enumerated() {
            let (x, y) = px(p)
            cairo_set_source_rgb(cr, 0.05, 0.05, 0.05)
            cairo_set_line_width(cr, 2)
            cairo_move_to(cr, x - 6, y - 6); cairo_line_to(cr, x + 6, y + 6)
            cairo_move_to(cr, x - 6, y + 6); cairo_line_to(cr, x + 6, y - 6)
            cairo_stroke(cr)
            cairo_set_font_size(cr, 12)
            placeLabel(cr, notes[i].label, near: (x, y), placed: &placed)
        }

        // legend
        let lx = width - 270, ly = top + 10
        cairo_set_source_rgb(cr, 0.97, 0.97, 0.97)
        cairo_rectangle(cr, lx - 10, ly - 22, 262, 218)
        cairo_fill(cr)
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
        cairo_set_font_size(cr, 14)
        text(cr, "Legend", at: (lx, ly), align: .left)
        cairo_set_font_size(cr, 12)
        cairo_arc(cr, lx + 6, ly + 24, 6, 0, 2 * Double.pi)
        cairo_set_source_rgb(cr, 0.3, 0.5, 0.8)
        cairo_fill(cr)
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
        text(cr, "instrument (its component's mean)", at: (lx + 20, ly + 28), align: .left)
        cairo_set_source_rgba(cr, 0.3, 0.5, 0.8, 0.3)
        cairo_save(cr); cairo_translate(cr, lx + 6, ly + 54); cairo_scale(cr, 10, 6)
        cairo_arc(cr, 0, 0, 1, 0, 2 * Double.pi); cairo_restore(cr); cairo_fill(cr)
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
        text(cr, "1 standard deviation of it", at: (lx + 20, ly + 58), align: .left)
        cairo_move_to(cr, lx + 6, ly + 76); cairo_line_to(cr, lx + 14, ly + 84); cairo_line_to(cr, lx + 6, ly + 92)
        cairo_line_to(cr, lx - 2, ly + 84); cairo_close_path(cr); cairo_stroke(cr)
        text(cr, "preset (labelled if not on an", at: (lx + 20, ly + 82), align: .left)
        text(cr, "instrument's own point)", at: (lx + 20, ly + 97), align: .left)
        cairo_move_to(cr, lx, ly + 112); cairo_line_to(cr, lx + 12, ly + 124)
        cairo_move_to(cr, lx, ly + 124); cairo_line_to(cr, lx + 12, ly + 112); cairo_stroke(cr)
        text(cr, "encoded recording", at: (lx + 20, ly + 122), align: .left)
        text(cr, "Axes: latent units along the two", at: (lx, ly + 148), align: .left)
        text(cr, "directions that separate the", at: (lx, ly + 163), align: .left)
        text(cr, "instruments most.", at: (lx, ly + 178), align: .left)
    }

    private enum Align { case left, centre, right }

    private func text(_ cr: OpaquePointer, _ s: String, at p: (Double, Double), align: Align) {
        var ext = cairo_text_extents_t()
        cairo_text_extents(cr, s, &ext)
        let x: Double
        switch align {
        case .left: x = p.0
        case .centre: x = p.0 - ext.x_advance / 2
        case .right: x = p.0 - ext.x_advance
        }
        cairo_move_to(cr, x, p.1)
        cairo_show_text(cr, s)
        cairo_new_path(cr)  // no current point left behind for the next arc to join
    }

    /// Puts a label beside a point where it overlaps no earlier label or marker (first free spot
    /// among right, left, above, below and the diagonals; stacked further out when all are taken).
    private func placeLabel(_ cr: OpaquePointer, _ s: String, near p: (Double, Double),
                            placed: inout [(Double, Double, Double, Double)]) {
        var ext = cairo_text_extents_t()
        cairo_text_extents(cr, s, &ext)
        let w = ext.x_advance, h = 14.0
        func overlaps(_ b: (Double, Double, Double, Double)) -> Bool {
            placed.contains { o in b.0 < o.0 + o.2 && o.0 < b.0 + b.2 && b.1 < o.1 + o.3 && o.1 < b.1 + b.3 }
        }
        var chosen: (Double, Double, Double, Double)? = nil
        for ring in 0..<6 {
            let d = 10.0 + 14.0 * Double(ring)
            let candidates = [(p.0 + d, p.1 - h / 2), (p.0 - d - w, p.1 - h / 2), (p.0 - w / 2, p.1 - d - h),
                              (p.0 - w / 2, p.1 + d), (p.0 + d, p.1 - d - h), (p.0 + d, p.1 + d),
                              (p.0 - d - w, p.1 - d - h), (p.0 - d - w, p.1 + d)]
            if let c = candidates.first(where: { !overlaps(($0.0, $0.1, w, h)) }) {
                chosen = (c.0, c.1, w, h)
                break
            }
        }
        let box = chosen ?? (p.0 + 10, p.1 - h / 2, w, h)
        placed.append(box)
        cairo_move_to(cr, box.0, box.1 + h - 3)
        cairo_show_text(cr, s)
        cairo_new_path(cr)
    }
}
