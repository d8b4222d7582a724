import Foundation
import XunfangGeo
import XunfangPluginKit
import CheckpointControlContract

/// The seal feasibility map as GeoJSON (for any GIS tool) and as one self-contained HTML
/// page (an SVG map, no tiles or scripts from elsewhere: command centres are often
/// offline). Pure.
enum SealMapPage {
    /// Grids as Polygons (`feasible`, `points`, `latest_seconds`, `reason`) and every ring
    /// point as a Point (`grid`, `unit`, `seconds`, `road`).
    static func geojson(_ map: SealMapResponse, grids: [SealFeasibility.Grid]) -> String {
        let outlines = Dictionary(grids.map { ($0.id, $0.outline) }, uniquingKeysWith: { first, _ in first })
        var features: [[String: Any]] = []
        for cell in map.cells {
            let ring = (outlines[cell.gridID] ?? []).map { [$0.longitude, $0.latitude] }
            features.append(["type": "Feature",
                             "geometry": ["type": "Polygon", "coordinates": [ring + ring.prefix(1)]],
                             "properties": ["id": cell.gridID, "name": cell.gridName, "feasible": cell.feasible, "proved": cell.proved,
                                            "points": cell.ring.count, "latest_seconds": cell.latestSeconds, "reason": cell.reason]])
            for point in cell.ring {
                features.append(["type": "Feature", "geometry": ["type": "Point", "coordinates": [point.longitude, point.latitude]],
                                 "properties": ["grid": cell.gridID, "unit": point.unit, "seconds": point.seconds, "road": point.roadName]])
            }
        }
        let collection: [String: Any] = ["type": "FeatureCollection", "features": features]
        let data = (try? JSONSerialization.data(withJSONObject: collection, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Green grids can be sealed in time, red cannot, grey need no ring; each ring point a
    /// dot with its unit and time on hover; a table of the grids that cannot be sealed.
    static func html(_ map: SealMapResponse, grids: [SealFeasibility.Grid]) -> String {
        guard let frame = SVGFrame(covering: grids.flatMap(\.outline), width: 920) else { return "" }
        let outlines = Dictionary(grids.map { ($0.id, $0.outline) }, uniquingKeysWith: { first, _ in first })
        var shapes = "", dots = "", rows = ""
        for cell in map.cells {
            let colour = !cell.feasible ? "#e45756" : cell.ring.isEmpty ? "#bbbbbb" : "#54a24b"
            let title = "\(cell.gridName) \(cell.gridID): " + (cell.feasible ? "\(cell.ring.count) points, last in \(Int(cell.latestSeconds)) s" : cell.reason)
            shapes += "<polygon points=\"\((outlines[cell.gridID] ?? []).map(frame.coordinates).joined(separator: " "))\" fill=\"\(colour)\" fill-opacity=\"0.45\" "
                + "stroke=\"#333\" stroke-width=\"0.5\"><title>\(AfterAction.escape(title))</title></polygon>\n"
            for point in cell.ring {
                let at = GeoPoint(longitude: point.longitude, latitude: point.latitude)
                dots += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\"", frame.x(at), frame.y(at)) + " r=\"2.5\" fill=\"#1f4e79\"><title>\(AfterAction.escape("\(point.unit) → \(point.roadName.isEmpty ? "node \(point.node)" : point.roadName), \(Int(point.seconds)) s"))</title></circle>\n"
            }
            if !cell.feasible {
                rows += "<tr><td>\(AfterAction.escape(cell.gridID))</td><td>\(AfterAction.escape(cell.gridName))</td><td>\(cell.pointsNeeded)</td>"
                    + "<td>\(AfterAction.escape(cell.reason))</td></tr>\n"
            }
        }
        let title = "关城门 \(Int(map.targetSeconds)) 秒封控可行性 · seal feasibility"
        return """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>\(title)</title>
        <style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>
        </head><body>
        <h1>\(title)</h1>
        <p>\(map.feasibleGrids) of \(map.cells.count) grids can be sealed within \(Int(map.targetSeconds)) s by \(map.units) units and staffed \
        checkpoints, computed \(ChinaTime.format(milliseconds: map.computedAt)) (China time). Green: sealable; red: not; grey: no ring needed. \
        Hover a grid or a point for details.</p>
        \(frame.open(label: "grids by seal feasibility"))
        \(shapes)\(dots)</svg>
        <h2>Grids that cannot be sealed in time</h2>
        <table><tr><th>grid</th><th>name</th><th>points needed</th><th>why</th></tr>
        \(rows)</table>
        </body></html>
        """
    }
}
