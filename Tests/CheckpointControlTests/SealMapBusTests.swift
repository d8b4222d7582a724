import CheckpointControlContract
import Foundation
import Testing
import XunfangGeo
import XunfangPluginKit

@Suite("The seal feasibility map over the bus", .serialized)
struct SealMapBusTests {
    /// A square grid of ±`half` metres around (0, `north`) on the crossroads.
    func grid(_ id: String, _ half: Double, north: Double = 0) -> Xunfang_Checkpoint_V1_SealMapGrid {
        let projection = LocalProjection(origin: Roads.origin)
        return .with {
            $0.id = id
            $0.name = "网格 \(id)"
            $0.outline = [(-half, -half), (half, -half), (half, half), (-half, half)].map { corner in
                let point = projection.unproject(PlanarPoint(x: corner.0, y: north + corner.1))
                return .with { $0.longitude = point.longitude; $0.latitude = point.latitude }
            }
        }
    }

    func unit(_ id: String, node: Int64) -> Xunfang_Checkpoint_V1_RingUnit {
        .with {
            $0.id = id
            $0.node = node
        }
    }

    @Test("the map says which grid four cars can seal in time and by whom, as GeoJSON and HTML too; bad input is refused by name")
    func map() async throws {
        let stack = try await RegistryStack.start()
        let plugin = try await stack.plugin()
        let desk = try await stack.desk()
        // Cars 300 m out on three arms (100 m takes a car 14.4 s) and at the far south end.
        // The grid at the north end is sealed by the north car at its one road out; the
        // grid ±150 m around the crossing needs its south road held, which no car reaches
        // within 30 s.
        let request = Xunfang_Checkpoint_V1_SealMapRequest.with {
            $0.targetSeconds = 30
            $0.reachMetres = 100
            $0.units = [unit("E", node: 103), unit("W", node: 97), unit("N", node: 203), unit("S", node: 195)]
            $0.grids = [grid("north", 50, north: 500), grid("centre", 150)]
            $0.withGeojson = true
            $0.withHtml = true
        }
        let map = try await call(desk, "SealMap", request, as: Xunfang_Checkpoint_V1_SealMapResponse.self)
        #expect(map.cells.map(\.gridID) == ["north", "centre"] && map.feasibleGrids == 1 && map.units == 4 && map.targetSeconds == 30)
        let north = map.cells[0], centre = map.cells[1]
        #expect(north.feasible && north.proved && north.ring.map(\.unit) == ["N"] && north.ring.map(\.node) == [204], "\(north)")
        #expect(north.ring.allSatisfy { !$0.roadName.isEmpty && $0.seconds <= 30 } && north.latestSeconds == north.ring[0].seconds)
        #expect(!centre.feasible && centre.proved && centre.reason.contains("no node any unit reaches within 30 s"), "\(centre.reason)")

        let geojson = try JSONSerialization.jsonObject(with: Data(map.geojson.utf8)) as? [String: Any]
        let features = geojson?["features"] as? [[String: Any]] ?? []
        let kinds = features.compactMap { ($0["geometry"] as? [String: Any])?["type"] as? String }
        #expect(geojson?["type"] as? String == "FeatureCollection" && kinds.filter { $0 == "Polygon" }.count == 2 && kinds.filter { $0 == "Point" }.count == 1)
        #expect(map.html.contains("1 of 2 grids can be sealed within 30 s") && map.html.contains("<svg") && map.html.contains("网格 centre"))

        for (bad, words) in [({ (r: inout Xunfang_Checkpoint_V1_SealMapRequest) in r.targetSeconds = 10 }, "target_seconds 10.0 must be 30 to 900"),
                             ({ r in r.grids.append(grid("centre", 60)) }, "grid centre appears twice"),
                             ({ r in r.grids[0].outline = Array(r.grids[0].outline.prefix(2)) }, "the outline needs 3 to 1000 points"),
                             ({ r in r.units.append(unit("X", node: 999)) }, "node 999 is not in the road graph")] {
            var wrong = request
            bad(&wrong)
            await #expect { try await call(desk, "SealMap", wrong, as: Xunfang_Checkpoint_V1_SealMapResponse.self) } throws: { "\($0)".contains(words) }
        }
        await plugin.close()
        await desk.close()
    }
}
