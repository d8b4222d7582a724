import Foundation
import Testing
import XunfangTestSupport
import XunfangBrowser

/// Out of process, in a real browser: the stack with the console as separate processes,
/// headless Chromium signed in as the demo's officers.
@Suite("Out of process: the console in headless Chromium", .serialized)
struct ConsoleBrowserTests {
    let port = Int.random(in: 20_000...40_000)

    var county: String {
        testCounty("Console County", durableTopics: ["incident.>", "dispatch.order.>", "checkpoint.order.>"], plugins: """
          - name: situation
            env: { SITUATION_DEMO_HISTORY_DAYS: "60" }
            acl:
              publish: ["situation.>"]
              subscribe: ["incident.>"]
              serve: ["/xunfang.situation.v1.Situation/*"]
              call: ["/xunfang.grid_model.v1.GridModel/Locate", "/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.dispatch.v1.Dispatch/ListUnits"]
          - name: checkpoint
            env: { CHECKPOINT_SEED_FROM_GRID: "on", CHECKPOINT_READINESS_SECONDS: "10" }
            acl:
              publish: ["checkpoint.>"]
              subscribe: ["unit.position"]
              serve: ["/xunfang.checkpoint.v1.Checkpoint/*"]
              call: ["/xunfang.grid_model.v1.GridModel/*", "/xunfang.dispatch.v1.Dispatch/ListUnits"]
          - name: patrol
            env: { PATROL_DEMO_CAMERAS: "on", PATROL_DRIVES_DISPATCH: "off" }
            acl:
              publish: ["unit.position", "patrol.>"]
              subscribe: ["situation.deployment"]
              serve: ["/xunfang.patrol.v1.Patrol/*"]
              call: ["/xunfang.dispatch.v1.Dispatch/ListUnits", "/xunfang.dispatch.v1.Dispatch/UpdateUnit", "/xunfang.dispatch.v1.Dispatch/Acknowledge",
                     "/xunfang.dispatch.v1.Dispatch/Clear", "/xunfang.dispatch.v1.Dispatch/Intake", "/xunfang.situation.v1.Situation/Plan",
                     "/xunfang.grid_model.v1.GridModel/ListSites", "/xunfang.grid_model.v1.GridModel/ListAreas"]
          - name: community
            env: { COMMUNITY_DEMO_LEDGER: "on" }
            acl:
              publish: ["community.>"]
              subscribe: ["situation.warning"]
              serve: ["/xunfang.community.v1.Community/*"]
              call: ["/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.grid_model.v1.GridModel/Locate", "/xunfang.grid_model.v1.GridModel/Isochrone",
                     "/xunfang.dispatch.v1.Dispatch/Intake"]
          - name: console
            env: { CONSOLE_DEMO_OFFICERS: "on", CONSOLE_ADDRESS: "127.0.0.1:\(port)" }
            acl:
              subscribe: ["unit.position", "unit.status", "incident.>", "checkpoint.status", "checkpoint.seal", "checkpoint.containment", "dispatch.moveup", "patrol.exception", "dispatch.escalation", "checkpoint.escalation", "checkpoint.readiness"]
              call: ["/xunfang.dispatch.v1.Dispatch/*", "/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.grid_model.v1.GridModel/ListSites",
                     "/xunfang.grid_model.v1.GridModel/Roads", "/xunfang.grid_model.v1.GridModel/Coverage", "/xunfang.grid_model.v1.GridModel/Locate", "/xunfang.situation.v1.Situation/Colours", "/xunfang.situation.v1.Situation/Emerging", "/xunfang.checkpoint.v1.Checkpoint/*", "/xunfang.patrol.v1.Patrol/Cameras", "/xunfang.patrol.v1.Patrol/Compliance",
                 "/xunfang.community.v1.Community/ListTips", "/xunfang.community.v1.Community/UpdateTip", "/xunfang.community.v1.Community/ListAlerts", "/xunfang.community.v1.Community/ListWatches"]

        """, clients: """
          - name: ctl
            acl: { publish: [">"], subscribe: [">"], call: ["*"] }

        """, dispatchCalls: ["/xunfang.checkpoint.v1.Checkpoint/Activate"])
    }

    static func position(_ callSign: String, _ longitude: Double, _ latitude: Double) -> [String] {
        ["ctl", "publish", "unit.position", "--type", "xunfang.dispatch.v1.UnitPosition", "--data",
         #"{"callSign":"\#(callSign)","position":{"longitude":\#(longitude),"latitude":\#(latitude)}}"#]
    }

    @Test("sign in, the county drawn with its 192 units, an incident made by clicking the map, its recommendation, an assignment, a unit moving live; a viewer may only look; everything audited")
    func console() async throws {
        let directory = try countyDirectory("xf-console", county: county)
        let up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        let officers = "\(directory)/data/console/officers-demo.txt"
        #expect(try await eventually(within: 60) { FileManager.default.fileExists(atPath: officers) })
        let passwords = Dictionary(uniqueKeysWithValues: try String(contentsOfFile: officers, encoding: .utf8).split(separator: "\n").map {
            let fields = $0.split(separator: " ")
            return (String(fields[0]), String(fields[1]))
        })
        // C004 reports where it is, so the recommendation has a unit with a position; C020 and
        // C021 far out in the county, so a move-up has units to move into the gap C004 leaves.
        for (unit, longitude, latitude) in [("C020", 104.36, 31.03), ("C021", 104.18, 30.92)] {
            _ = try await run(Self.position(unit, longitude, latitude), in: directory)
        }
        #expect(try await eventually {
            _ = try await run(Self.position("C004", 104.2841, 30.9781), in: directory)
            return try await run(["dispatch", "units"], in: directory).output.contains(#""positionAt":"20"#)
        })
        let url = "http://127.0.0.1:\(port)/"
        #expect(try await eventually(within: 60) { (try? await run(["ctl", "stats"], in: directory).output.contains("\"instance\":\"console\"")) == true })

        let browser = try await Browser.launch()
        defer { browser.close() }
        let duty = passwords["duty"] ?? "", viewer = passwords["viewer"] ?? ""
        let port = port
        try await browser.withPage { page in
            func signIn(_ name: String, _ password: String) async throws {
                try await page.navigate(url)
                #expect(try await page.wait(for: "document.getElementById('signin')"))
                _ = try await page.evaluate("document.getElementById('name').value = '\(name)'; document.getElementById('password').value = '\(password)'; document.getElementById('submit').click(); 1")
            }
            // A wrong password: the sign-in page again, saying so.
            var ready = false
            for _ in 0..<300 where !ready {
                try await signIn("duty", "not-the-password")
                ready = try await page.wait(for: "document.getElementById('error')", seconds: 5)
            }
            #expect(ready, "the console at \(port) answered")
            #expect(try await page.evaluate("document.getElementById('error').textContent") as? String == "用户名或密码错误 Wrong name or password")

            // The duty officer: the county, its units, live.
            try await signIn("duty", duty)
            #expect(try await page.wait(for: "document.body.dataset.ready === 'true'"), "the console loaded")
            let roads = Int(try await page.evaluate("document.body.dataset.roads") as? String ?? "") ?? 0
            #expect(roads > 1_000, "the county's roads are drawn: \(roads) pieces")
            let sites = Int(try await page.evaluate("document.body.dataset.sites") as? String ?? "") ?? 0
            #expect(sites > 100, "stations, posts, checkpoints, must-patrol points and lines: \(sites) sites")
            #expect(try await page.evaluate("document.getElementById('officer').textContent") as? String == "duty · 值班员 duty officer")
            #expect(try await page.evaluate("document.querySelectorAll('#units tr').length") as? Int == 192)
            #expect(try await page.evaluate("document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-overlay-pane path').length") as? Int ?? 0 >= 1, "the grids are drawn")
            #expect(try await page.wait(for: "document.getElementById('live').textContent.includes('实时 live')"), "the live feed is open")
            let picture = try await page.screenshot()
            #expect(picture.count > 20_000, "a drawn map, not a blank page: \(picture.count) bytes of PNG")

            // An incident where the officer clicks; its recommendation; the assignment.
            _ = try await page.evaluate("window.prompt = () => 'theft'; map.fire('click', {latlng: L.latLng(30.978, 104.284)}); 1")
            #expect(try await page.wait(for: "document.querySelector('#ranked button.assign')"), "the recommendation is shown")
            #expect(try await page.evaluate("document.querySelector('#ranked li').textContent.startsWith('C004')") as? Bool == true)
            #expect(try await page.wait(for: "document.querySelector('#incidents tr') && incidentMarkers['INC-000001']"), "the incident is on the board and the map")
            _ = try await page.evaluate("document.querySelector('#ranked button.assign').click(); 1")
            #expect(try await page.wait(for: "document.getElementById('assigned')"))
            #expect(try await page.wait(for: "document.querySelector('#unit-C004 td:nth-child(3)').textContent.includes('assigned')"), "C004's row says assigned")

            // The move-up Dispatch computed after that dispatch, live; accepted when it has moves.
            #expect(try await page.wait(for: "document.getElementById('moveup').textContent.includes('INC-000001')"), "the move-up plan is shown")
            if try await page.evaluate("!!document.getElementById('accept-moveup')") as? Bool == true {
                _ = try await page.evaluate("document.getElementById('accept-moveup').click(); 1")
                #expect(try await page.wait(for: "document.getElementById('moveup-result')"))
                let accepted = try await page.evaluate("document.getElementById('moveup-result').textContent") as? String ?? ""
                #expect(accepted.contains("已下令 ordered: C02"), "\(accepted)")
            } else {
                Issue.record("no moves in the move-up: \(try await page.evaluate("document.getElementById('moveup').textContent") ?? "")")
            }

            // Yesterday's four colours on every grid; the checkpoints' board; the town's seal
            // plan drilled from the console, its board live.
            #expect(try await page.wait(for: "Number(document.body.dataset.colouredGrids) >= 129"), "every grid has its colour")
            // Sixty days of the demo county's history: hot cells on the map, and the stations
            // yellow or worse on the warnings board, as many as Situation's colours say.
            let hotCellsDrawn = try await page.wait(for: "Number(document.body.dataset.hotCells) > 0")
            let hotCells = try await page.evaluate("document.body.dataset.hotCells")
            #expect(hotCellsDrawn, "hot cells drawn: \(String(describing: hotCells))")
            // Situation may still be colouring yesterday from its new history: read, repaint, compare until they agree.
            var warned = -1, onBoard = -2
            for _ in 0..<60 where warned != onBoard {
                warned = try await page.evaluate("""
                    fetch('/api/colours').then(r => r.json()).then(c => (c.stations || []).filter(s => ['COLOUR_YELLOW', 'COLOUR_ORANGE', 'COLOUR_RED'].includes(s.colour)).length)
                    """) as? Int ?? -1
                onBoard = try await page.evaluate("paintColours().then(() => document.querySelectorAll('#warnings li.warning').length)") as? Int ?? -2
                if warned != onBoard { try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(warned >= 0 && onBoard == warned, "\(warned) stations warned, \(onBoard) on the board")
            if warned == 0 { #expect(try await page.evaluate("document.getElementById('warnings').textContent") as? String == "无预警 no warnings") }
            #expect(try await page.wait(for: "document.querySelectorAll('#checkpoints tr').length === 13"), "8 checkpoints and 5 city exits on the board")
            #expect(try await page.wait(for: "document.querySelector('#seal-plans button.activate[data-drill=true]')"), "the town's seal plan can be drilled")
            // CheckpointControl's readiness (every 10 s here): how the plan would go now.
            let assessed = try await page.wait(for: "(document.getElementById('readiness-TOWN') || {textContent: ''}).textContent.includes('到位 covered')")
            let readinessLine = try await page.evaluate("document.getElementById('readiness-TOWN').textContent")
            #expect(assessed, "the plan's readiness is shown: \(String(describing: readinessLine))")
            _ = try await page.evaluate("window.prompt = () => 'monthly drill'; 1")
            #expect(try await page.click("#seal-plans button.activate[data-drill=true]"))
            #expect(try await page.wait(for: "document.getElementById('seal-count') && document.getElementById('seal').textContent.includes('演练 Drill')"), "the drill's board is shown")
            #expect(try await page.evaluate("document.getElementById('seal').textContent.includes('duty: monthly drill')") as? Bool == true)
            _ = try await page.evaluate("window.prompt = () => 'drill over'; document.getElementById('stand-down').click(); 1")
            #expect(try await page.wait(for: "document.getElementById('seal-state').textContent.includes('已解除')"), "stood down from the console")

            // 一键处置 on the first incident: two more units ordered and the town's gates drilled in one step.
            for (unit, longitude, latitude) in [("C005", 104.286, 30.979), ("C006", 104.281, 30.976)] {
                _ = try await run(Self.position(unit, longitude, latitude), in: directory)
            }
            #expect(try await page.wait(for: "units['C005'] && units['C005'].marker && units['C006'] && units['C006'].marker"))
            _ = try await page.evaluate("""
                const form = document.getElementById('major'); form.elements.units.value = 2; form.elements.sealPlan.value = 'TOWN';
                form.elements.drill.checked = true; form.requestSubmit(); 1
                """)
            #expect(try await page.wait(for: "document.getElementById('major-result')"))
            let major = try await page.evaluate("document.getElementById('major-result').textContent") as? String ?? ""
            #expect(major.contains("units ordered: C") && major.contains("封控 seal TOWN-2"), "the major incident's answer: \(major)")
            #expect(try await page.wait(for: "document.getElementById('stand-down') && document.getElementById('stand-down').dataset.activation === 'TOWN-2'"),
                    "the seal it started is on the board, live")

            // Place search: a station found by the first two characters of its name, shown on
            // the map, and a call taken there.
            let station = try await page.evaluate("places.find(p => p.kind.startsWith('派出所')).name") as? String ?? ""
            #expect(station.count > 2, "a station's name: \(station)")
            _ = try await page.evaluate("""
                document.getElementById('place-search').value = '\(station.prefix(2))';
                document.getElementById('place-search').dispatchEvent(new Event('input')); 1
                """)
            let found = "[...document.querySelectorAll('#places li')].find(li => li.querySelector('a').textContent === '\(station)')"
            #expect(try await page.wait(for: found), "\(station) is among the places found")
            _ = try await page.evaluate("\(found).querySelector('a').click(); 1")
            #expect(try await page.wait(for: "document.body.dataset.shownPlace === '\(station)'"))
            _ = try await page.evaluate("window.prompt = () => 'dispute'; \(found).querySelector('button.create-here').click(); 1")
            #expect(try await page.wait(for: "incidentMarkers['INC-000002']"), "a call taken at the station found")

            // A unit moves: its marker follows from the bus, without a reload.
            _ = try await run(Self.position("C010", 104.30, 30.99), in: directory)
            #expect(try await page.wait(for: "units['C010'] && units['C010'].marker && Math.abs(units['C010'].marker.getLatLng().lat - 30.99) < 1e-9"), "C010's marker moved live")

            // Escalations reach the duty officer's box at once: Dispatch's (units that did not
            // acknowledge in turn) and CheckpointControl's (a seal position not in place).
            let unacknowledged = #"{"incident":{"id":"INC-000001","typeName":"盗窃"},"unacknowledged":["C004","C005"],"reason":"no acknowledgement in turn"}"#
            _ = try await run(["ctl", "publish", "dispatch.escalation", "--type", "xunfang.dispatch.v1.Escalation", "--data", unacknowledged], in: directory)
            #expect(try await page.wait(for: "document.getElementById('escalations').textContent.includes('INC-000001 盗窃 · 未确认 not acknowledged: C004, C005')"))
            let late = #"{"activation":"TOWN-9","planName":"城关封控","position":{"id":"P1","name":"东出口"},"reason":"not in position by the target"}"#
            _ = try await run(["ctl", "publish", "checkpoint.escalation", "--type", "xunfang.checkpoint.v1.SealEscalation", "--data", late], in: directory)
            #expect(try await page.wait(for: "document.querySelector('#escalations li.escalation').textContent.includes('城关封控 · 东出口')"), "the newest first")

            // A live containment started at CheckpointControl: its ring (or the points it would
            // need) on the map and its line on the board, as recomputed every 5 s.
            let contain = #"{"ring":{"incidentLongitude":104.284,"incidentLatitude":30.978,"headStart":30,"boundary":300},"officer":"duty"}"#
            let started = try await run(["ctl", "call", "/xunfang.checkpoint.v1.Checkpoint/Contain", "--data", contain], in: directory)
            #expect(started.output.contains("CT-1"), "\(started.output)")
            #expect(try await page.wait(for: "document.getElementById('containment-CT-1') && Number(document.body.dataset.containmentPoints) > 0"),
                    "the containment on the board and its points on the map")

            // A member's tip: on the duty officer's board, verified in two steps and forwarded, it
            // becomes Dispatch's incident; the board shows no one's name.
            var submitted = ""
            for _ in 0..<60 where !submitted.contains("TIP-") {
                submitted = try await run(["ctl", "call", "/xunfang.community.v1.Community/SubmitTip", "--data",
                                           #"{"memberId":"M-000001","text":"两名男子在撬电动车锁","longitude":104.287,"latitude":30.991,"typeCode":"theft"}"#],
                                          in: directory, withErrors: true).output
                if !submitted.contains("TIP-") { try await Task.sleep(for: .milliseconds(500)) }
            }
            let tip = try #require(submitted.firstRange(of: #/TIP-\d+/#).map { String(submitted[$0]) }, "\(submitted)")
            _ = try await page.evaluate("refreshTips().then(() => 1)")
            #expect(try await page.wait(for: "document.getElementById('tip-\(tip)')"), "the tip is on the board")
            #expect(try await page.evaluate("document.getElementById('tips').textContent.includes('M-000001')") as? Bool == false)
            for step in ["verifying", "verified", "forwarded"] {
                // The board re-renders after each step: the next step's button is clicked once it is there.
                _ = try await page.evaluate("window.prompt = () => '核实 \(step)'; 1")
                #expect(try await page.click("#tip-\(tip) button[data-to=\(step)]"), "\(tip): \(step) offered")
                #expect(try await page.wait(for: "document.getElementById('hint').textContent.startsWith('\(tip) → \(step)')"), "\(tip) → \(step)")
            }
            #expect(try await page.evaluate("document.getElementById('hint').textContent.includes('INC-')") as? Bool == true, "forwarded: Dispatch's incident")
            #expect(try await page.wait(for: "!document.getElementById('tip-\(tip)')"), "no longer open")

            // A community watch asked for at Community: on the community board and the map
            // where it was called; the patrol board agrees with Patrol on the units on patrol.
            let watchStation = try await page.evaluate("get('/api/incidents').then(a => a.incidents.find(i => i.id === 'INC-000001').stationId)") as? String ?? ""
            let watch = #"{"incidentId":"INC-000001","typeCode":"robbery","typeName":"抢劫","longitude":104.284,"latitude":30.978,"description":"两名男子 红色摩托车","hours":2,"stationId":"\#(watchStation)"}"#
            let watched = try await run(["ctl", "call", "/xunfang.community.v1.Community/RequestWatch", "--data", watch], in: directory).output
            let watchID = try #require(watched.firstRange(of: #/W-\d+/#).map { String(watched[$0]) }, "\(watched)")
            _ = try await page.evaluate("refreshCommunity().then(() => 1)")
            #expect(try await page.evaluate("document.getElementById('watches').textContent.includes('\(watchID) · 抢劫')") as? Bool == true)
            #expect(try await page.evaluate("watchLayer.getLayers().length") as? Int == 1, "the watch on the map")
            let compliance = try await run(["ctl", "call", "/xunfang.patrol.v1.Patrol/Compliance", "--data", "{}"], in: directory).output
            let onPatrol = compliance.components(separatedBy: "\"onPatrol\": true").count - 1
            _ = try await page.evaluate("refreshPatrol().then(() => 1)")
            let patrolBoard = try await page.evaluate("document.getElementById('patrol').textContent") as? String ?? ""
            if onPatrol == 0 { #expect(patrolBoard.hasPrefix("本班暂无巡逻 no unit on patrol this shift"), "\(patrolBoard)") }
            #expect(try await page.evaluate("document.body.dataset.patrolUnits") as? String == String(onPatrol), "units on patrol: Patrol says \(onPatrol); the board: \(patrolBoard)")

            // Video patrol's demo cameras, switched on in the corner (Patrol registers them as it starts).
            _ = try await page.evaluate("map.addLayer(cameraLayer); 1")
            var cameras = 0
            for _ in 0..<60 where cameras < 1_000 {
                cameras = Int(try await page.evaluate("drawCameras().then(() => document.body.dataset.cameras)") as? String ?? "") ?? 0
                if cameras < 1_000 { try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(cameras >= 1_000, "the demo county's cameras on the map: \(cameras)")

            // 3-minute coverage, switched on in the corner: every grid drawn by the share of its
            // roads the available units with positions (C010 among them) reach.
            _ = try await page.evaluate("map.addLayer(coverageLayer); map.fire('overlayadd', {layer: coverageLayer}); 1")
            #expect(try await page.wait(for: "Number(document.body.dataset.coveredGrids) >= 129"), "every grid drawn by its coverage")
            #expect(try await page.evaluate("Number(document.body.dataset.coverageUnits) >= 1 && Number(document.body.dataset.reachedGrids) >= 1") as? Bool == true)
            #expect(try await page.evaluate("document.getElementById('coverage-legend').textContent.includes('3 分钟 min')") as? Bool == true)

            // A viewer sees the county and may not act: refused, nothing made.
            _ = try await page.evaluate("fetch('/logout', {method: 'POST'}).then(() => 1)")
            try await page.navigate(url)
            #expect(try await page.wait(for: "document.getElementById('signin')"))
            _ = try await page.evaluate("document.getElementById('name').value = 'viewer'; document.getElementById('password').value = '\(viewer)'; document.getElementById('submit').click(); 1")
            #expect(try await page.wait(for: "document.body.dataset.ready === 'true'"))
            #expect(try await page.evaluate("document.getElementById('hint').textContent") as? String == "只读 Read only")
            let status = try await page.evaluate("fetch('/api/incidents', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({type: 'theft', longitude: 104.28, latitude: 30.97})}).then(r => r.status)")
            #expect(status as? Int == 403)
            let seal = try await page.evaluate("fetch('/api/seal-plans/TOWN/activate', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({drill: false, reason: 'x'})}).then(r => r.status)")
            #expect(seal as? Int == 403, "a viewer cannot close the town gates")
            #expect(try await page.evaluate("document.querySelectorAll('#seal-plans button').length") as? Int == 0, "nor is offered to")
        }
        let incidents = try await run(["ctl", "call", "/xunfang.dispatch.v1.Dispatch/ListIncidents", "--data", "{}"], in: directory).output
        #expect(incidents.components(separatedBy: #""id":"INC-"#).count - 1 == 3, "three incidents, the duty officer's two and the forwarded tip's: \(incidents)")
        let audit = try await run(["console", "audit", "--limit", "50"], in: directory).output
        for line in ["duty (-)  sign in    refused: wrong name or password", "duty (duty)  sign in    ok", "duty (duty)  create incident  INC-000001  ok", "duty (duty)  create incident  INC-000002  ok",
                     "duty (duty)  assign  INC-000001 → C004  ok", "viewer (viewer)  create incident    refused: 查看 viewer may not act", "duty (duty)  activate seal plan  TOWN (drill) → ",
                     "duty (duty)  stand down seal  TOWN-1  ok", "duty (duty)  accept move-up  ", "duty (duty)  update tip  ", "duty (duty)  major incident  INC-000001: ",
                     "viewer (viewer)  activate seal plan    refused: 查看 viewer may not act"] {
            #expect(audit.contains(line), "\(line) in \(audit)")
        }
        up.terminate()
        try await exited(up)
    }
}
