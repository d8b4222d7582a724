import Foundation

/// A map picture's frame for the plugins' HTML pages: longitudes and latitudes fitted
/// into a width in pixels, north up, metres true to scale (a local projection, not
/// degrees, so a county far from the equator is not stretched). No tiles: every layer is
/// the county's own vector data.
public struct SVGFrame: Sendable {
    public let width: Int
    public let height: Int
    let projection: LocalProjection
    let minX: Double
    let maxY: Double
    let scale: Double
    let margin: Double

    /// Nil when there is nothing to frame.
    public init?(covering points: [GeoPoint], width: Double = 900, margin: Double = 10) {
        guard let middle = GeoPoint.middle(of: points) else { return nil }
        projection = LocalProjection(origin: middle)
        let box = BoundingBox(covering: points.map(projection.project))
        scale = (width - 2 * margin) / max(box.maxX - box.minX, box.maxY - box.minY, 1)
        (minX, maxY, self.margin) = (box.minX, box.maxY, margin)
        self.width = Int(width)
        height = Int(((box.maxY - box.minY) * scale + 2 * margin).rounded(.up))
    }

    public func x(_ point: GeoPoint) -> Double { (projection.project(point).x - minX) * scale + margin }
    public func y(_ point: GeoPoint) -> Double { (maxY - projection.project(point).y) * scale + margin }

    /// "x,y" to a tenth of a pixel.
    public func coordinates(_ point: GeoPoint) -> String { String(format: "%.1f,%.1f", x(point), y(point)) }

    /// Path data: each line in turn, closed into a shape when `closed`.
    public func path(_ lines: [[GeoPoint]], closed: Bool) -> String {
        lines.filter { !$0.isEmpty }.map { "M" + $0.map(coordinates).joined(separator: "L") + (closed ? "Z" : "") }.joined()
    }

    /// The opening `<svg>` tag of a picture this size.
    public func open(label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(Self.escape(label))\">"
    }

    /// Text made safe for HTML and SVG, inside elements and quoted attributes.
    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
