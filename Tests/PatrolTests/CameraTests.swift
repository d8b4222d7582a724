@testable import PatrolPlugin
import PatrolContract
import SituationAnalysisContract
import Testing
import XunfangGeo

@Suite("Video patrol: the camera registry, grades and the desk's schedule")
struct CameraTests {
    @Test("a CSV registry is taken whole or not at all; each bad line is named")
    func importCSV() {
        var request = Xunfang_Patrol_V1_ImportCamerasRequest()
        request.csv = "id,name,longitude,latitude,grade,view\nK1,北门路口,104.28,30.97,重点,\"north gate, both ways\"\nA1,东街,104.29,30.98,attention,\nG1,,104.30,30.99,general,\n"
        let good = Cameras.read(request)
        #expect(good.errors.isEmpty && good.cameras.map(\.id) == ["K1", "A1", "G1"])
        #expect(good.cameras[0].registeredGrade == .key && good.cameras[0].view == "north gate, both ways" && good.cameras[2].name == "G1")
        request.csv = "id,name,longitude,latitude,grade,view\nK1,北门,104.28,30.97,key,\nbad id,x,104.28,30.97,key,\nK2,x,200,30.97,key,\nK3,x,104.2,30.9,urgent,\nK1,again,104.28,30.97,key,\n"
        let bad = Cameras.read(request)
        #expect(bad.cameras.isEmpty, "nothing kept")
        #expect(bad.errors.map(\.0) == [3, 4, 5, 6], "\(bad.errors)")
        #expect(bad.errors[1].1.contains("WGS84") && bad.errors[2].1.contains("urgent") && bad.errors[3].1.contains("twice"))
        request.csv = "id,name\nK1,x\n"
        #expect(Cameras.read(request).errors.first?.1.contains("header") == true)
    }

    @Test("a GeoJSON registry: points with their properties; any other geometry is refused by feature number")
    func importGeoJSON() {
        var request = Xunfang_Patrol_V1_ImportCamerasRequest()
        request.geojson = """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"id":"K1","name":"北门","grade":"key"},"geometry":{"type":"Point","coordinates":[104.28,30.97]}},
          {"type":"Feature","properties":{"id":"G1"},"geometry":{"type":"Point","coordinates":[104.29,30.98]}}]}
        """
        let read = Cameras.read(request)
        #expect(read.errors.isEmpty && read.cameras.map(\.registeredGrade) == [.key, .general] && read.cameras[1].position.latitude == 30.98)
        request.geojson = """
        {"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"L1"},"geometry":{"type":"LineString","coordinates":[[104.28,30.97],[104.29,30.97]]}}]}
        """
        #expect(Cameras.read(request).errors.map(\.0) == [1])
    }

    func camera(_ id: String, _ x: Double, _ y: Double, registered: Xunfang_Patrol_V1_CameraGrade, station: String = "S1") -> Xunfang_Patrol_V1_Camera {
        let point = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.97)).unproject(PlanarPoint(x: x, y: y))
        var camera = Xunfang_Patrol_V1_Camera()
        camera.id = id
        camera.position.longitude = point.longitude
        camera.position.latitude = point.latitude
        camera.registeredGrade = registered
        camera.grade = registered
        camera.stationID = station
        return camera
    }

    @Test("grades follow the plan: in a hot cell key, near one or in an orange station attention, otherwise as registered and never below it")
    func regrade() {
        var plan = Xunfang_Situation_V1_DeploymentPlan()
        var cell = Xunfang_Situation_V1_HotCell()
        cell.id = "c3_4"
        (cell.longitude, cell.latitude) = (104.28, 30.97)
        plan.hotCells = [cell]
        var station = Xunfang_Situation_V1_StationPlan()
        station.stationID = "S2"
        station.colour = .orange
        plan.stations = [station]
        let cameras = [camera("in", 100, 100, registered: .general), camera("near", 400, 0, registered: .general), camera("far", 3_000, 0, registered: .general),
                       camera("orange", 3_000, 0, registered: .general, station: "S2"), camera("bank", 3_000, 0, registered: .key)]
        let graded = Cameras.regrade(cameras, plan: plan)
        #expect(graded.map(\.grade) == [.key, .attention, .general, .attention, .key])
        #expect(graded[0].gradeReason == "in hot cell c3_4" && graded[1].gradeReason == "400 m from hot cell c3_4" && graded[3].gradeReason == "station S2 is orange")
        #expect(Cameras.regrade(graded, plan: Xunfang_Situation_V1_DeploymentPlan()).map(\.grade) == [.general, .general, .general, .general, .key], "a quiet plan lowers them back")
    }

    @Test("the schedule checks each camera at its grade's interval on a beat of its own, the same on every run")
    func schedule() {
        let cameras = (0..<40).map { camera("K\($0)", 0, 0, registered: .key) } + (0..<40).map { camera("A\($0)", 0, 0, registered: .attention) }
            + (0..<240).map { camera("G\($0)", 0, 0, registered: .general) }
        let from = china("2026-12-02 08:00"), to = from + 8 * 3_600_000
        let checks = Cameras.schedule(cameras, from: from, to: to, every: Cameras.Frequencies())
        let byCamera = Dictionary(grouping: checks, by: \.cameraID)
        #expect(cameras.filter { $0.grade == .key }.allSatisfy { byCamera[$0.id]?.count == 8 }, "hourly")
        #expect(cameras.filter { $0.grade == .attention }.allSatisfy { byCamera[$0.id]?.count == 2 }, "every four hours")
        let general = cameras.filter { $0.grade == .general }.map { byCamera[$0.id]?.count ?? 0 }
        #expect(general.allSatisfy { $0 <= 1 } && general.reduce(0, +) > 40 && general.reduce(0, +) < 120, "about a third of the daily checks fall in 8 hours: \(general.reduce(0, +))")
        #expect(checks.map(\.at) == checks.map(\.at).sorted() && checks.allSatisfy { $0.at >= from && $0.at < to })
        let k0 = byCamera["K0"]!.map(\.at)
        #expect(zip(k0, k0.dropFirst()).allSatisfy { $1 - $0 == 3_600_000 })
        let hours = Dictionary(grouping: checks.filter { $0.grade == .key }, by: { ($0.at - from) / 3_600_000 }).mapValues(\.count)
        #expect(hours.values.allSatisfy { $0 == 40 }, "every key camera each hour")
        let minutes = Set(checks.filter { $0.grade == .key }.map { ($0.at - from) / 60_000 % 60 })
        #expect(minutes.count > 20, "spread over the hour, not all at its top: \(minutes.count) distinct minutes")
        #expect(Cameras.schedule(cameras, from: from, to: to, every: Cameras.Frequencies()) == checks)
    }

    @Test("the demo county's registry: a plausible tenth of the documents' 18,000, ids unique, arterial junctions for attention")
    func demo() {
        let cameras = PatrolPlugin.demoCameras(on: SyntheticRoads.county(.demoCounty))
        #expect(cameras.count >= 1_000 && cameras.count <= 1_800 && Set(cameras.map(\.id)).count == cameras.count, "\(cameras.count)")
        #expect(cameras.contains { $0.registeredGrade == .attention } && cameras.contains { $0.registeredGrade == .general })
    }

    @Test("PATROL_VIDEO_MINUTES takes three rising numbers of minutes")
    func frequencies() throws {
        #expect(try PatrolPlugin.frequencies("30, 120, 720") == Cameras.Frequencies(key: 30, attention: 120, general: 720))
        for bad in ["60,240", "240,60,1440", "0,60,120", "60,240,x"] { #expect(throws: (any Error).self) { try PatrolPlugin.frequencies(bad) } }
    }
}
