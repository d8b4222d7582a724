import Testing
import XunfangConfig

@Suite("County config")
struct ConfigTests {
    let validYAML = """
    county: Guanghan
    data_dir: /var/lib/xunfang
    bus:
      durable_topics: ["incident.>"]
      ping_interval_ms: 2000
    plugins:
      - name: dispatch
        credential: 0123456789abcdef0123
        acl:
          publish: ["incident.>", "unit.*"]
          serve: ["/xunfang.dispatch.v1.Dispatch/*"]
    clients:
      - name: ctl
        acl: { call: ["*"] }
    """

    @Test("a valid config is read with its plugins, clients and ACLs")
    func valid() throws {
        let config = try ConfigLoader.parse(yaml: validYAML)
        #expect(config.county == "Guanghan")
        #expect(config.bus.pingIntervalMilliseconds == 2_000)
        #expect(config.enabledPlugins.map(\.name) == ["dispatch"])
        let dispatch = try #require(config.principal(named: "dispatch"))
        #expect(dispatch.acl.mayPublish("incident.created"))
        #expect(!dispatch.acl.mayPublish("grid.changed"))
        #expect(dispatch.acl.mayServe("/xunfang.dispatch.v1.Dispatch/Recommend"))
        #expect(config.principal(named: "ctl")?.supervised == false)
    }

    @Test("errors name the bad key and its line", arguments: [
        ("county: x\nbsu: {}\n", "bsu", 2),
        ("bus:\n  ping_interval_ms: fast\n", "bus.ping_interval_ms", 2),
        ("bus:\n  ping_interval_ms: 5\n", "bus.ping_interval_ms", 2),
        ("plugins:\n  - name: Dispatch\n", "plugins[0].name", 2),
        ("plugins:\n  - name: a\n    acl:\n      publish: [\"a..b\"]\n", "plugins[0].acl.publish", 4),
        ("plugins:\n  - name: a\n    credential: short\n", "plugins[0].credential", 3),
        ("plugins:\n  - name: a\n  - name: a\n", "plugins[1].name", 3),
        ("plugins:\n  - name: a\n    env: { XUNFANG_CLOCK: \"simulated:1:1:60\" }\n", "plugins[0].env.XUNFANG_CLOCK", 3),
    ])
    func errors(yaml: String, key: String, line: Int) {
        do {
            _ = try ConfigLoader.parse(yaml: yaml)
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(error.line == line, "\(error)")
        }
    }

    @Test("plain TCP or open metrics reachable from other machines are refused unless the county allows them in so many words")
    func exposure() throws {
        for listen in ["0.0.0.0:7420", "[::]:7420", "10.1.2.3:7420", "bus.county.local:7420"] {
            #expect(throws: ConfigError.self, "\(listen)") { try ConfigLoader.parse(yaml: "bus:\n  tcp: \"\(listen)\"\n") }
            #expect(throws: ConfigError.self, "\(listen)") { try ConfigLoader.parse(yaml: "bus:\n  metrics: \"\(listen)\"\n") }
        }
        do {
            _ = try ConfigLoader.parse(yaml: "bus:\n  tcp: 0.0.0.0:7420\n")
        } catch {
            #expect(error.key == "bus.tcp" && error.message.contains("TLS"), "\(error)")
        }
        for listen in ["127.0.0.1:7420", "localhost:7420", "[::1]:7420"] {
            #expect(try ConfigLoader.parse(yaml: "bus:\n  tcp: \"\(listen)\"\n  metrics: \"\(listen)\"\n").bus.tcpListen == listen)
        }
        let tls = "bus:\n  tcp: 0.0.0.0:7420\n  tls_certificate: c.pem\n  tls_private_key: k.pem\n"
        #expect(try ConfigLoader.parse(yaml: tls).bus.tcpListen == "0.0.0.0:7420")
        #expect(try ConfigLoader.parse(yaml: "bus:\n  tcp: 0.0.0.0:7420\n  allow_plaintext_tcp: true\n").bus.tcpListen == "0.0.0.0:7420")
        #expect(try ConfigLoader.parse(yaml: "bus:\n  metrics: 0.0.0.0:9464\n  allow_open_metrics: true\n").bus.metricsListen == "0.0.0.0:9464")
    }

    let validTOML = """
    county = "Guanghan"
    data_dir = "/var/lib/xunfang"

    [bus]
    durable_topics = ["incident.>"]
    ping_interval_ms = 2000

    [[plugins]]
    name = "dispatch"
    credential = "0123456789abcdef0123"
    [plugins.acl]
    publish = ["incident.>", "unit.*"]
    serve = ["/xunfang.dispatch.v1.Dispatch/*"]

    [[clients]]
    name = "ctl"
    acl = { call = ["*"] }
    """

    @Test("a YAML alias bomb, deep nesting and a huge file are refused before they are expanded, naming the line")
    func hostileYAML() throws {
        // Twelve lines that expand to 10^10 strings when composed.
        var bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for (index, name) in "bcdefghijk".enumerated() {
            let previous = index == 0 ? "a" : String("abcdefghijk"["abcdefghijk".index("abcdefghijk".startIndex, offsetBy: index)])
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ",") + "]\n"
        }
        bomb += "county: *k\n"
        #expect {
            _ = try ConfigLoader.parse(yaml: bomb)
        } throws: { error in
            (error as? ConfigError).map { $0.line == 1 && "\($0)".contains("aliases") } == true
        }
        let deep = "county: x\nbus: { durable_topics: " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + " }\n"
        #expect { _ = try ConfigLoader.parse(yaml: deep) } throws: { error in "\(error)".contains("nest deeper") }
        let huge = "county: x\n" + String(repeating: "# padding\n", count: 200_000)
        #expect { _ = try ConfigLoader.parse(yaml: huge) } throws: { error in "\(error)".contains("larger than") }
        // Quoted stars and ampersands, comments and apostrophes are ordinary text.
        let quoted = validYAML + "\n# a comment with *stars and &more\n"
        #expect(try ConfigLoader.parse(yaml: quoted.replacingOccurrences(of: "county: Guanghan", with: "county: 'O''Brien & *co' # *x")).county == "O'Brien & *co")
    }

    @Test("the same county in TOML reads the same as in YAML")
    func tomlEqualsYAML() throws {
        let fromTOML = try ConfigLoader.parse(toml: validTOML)
        let fromYAML = try ConfigLoader.parse(yaml: validYAML)
        #expect(fromTOML == fromYAML)
        #expect(fromTOML.principal(named: "dispatch")?.acl.mayPublish("unit.status") == true)
    }

    @Test("TOML errors name the bad key and its line", arguments: [
        ("county = \"x\"\nbsu = 1\n", "bsu", 2),
        ("[bus]\nping_interval_ms = \"fast\"\n", "bus.ping_interval_ms", 2),
        ("[bus]\n\nping_interval_ms = 5\n", "bus.ping_interval_ms", 3),
        ("[[plugins]]\nname = \"a\"\n[[plugins]]\nname = \"Bad\"\n", "plugins[1].name", 4),
        ("[[plugins]]\nname = \"a\"\n[[plugins]]\nname = \"b\"\n[plugins.acl]\npublish = [\"a..b\"]\n", "plugins[1].acl.publish", 6),
        ("[[plugins]]\nname = \"a\"\ncredential = \"short\"\n", "plugins[0].credential", 3),
    ])
    func tomlErrors(toml: String, key: String, line: Int) {
        do {
            _ = try ConfigLoader.parse(toml: toml)
            Issue.record("accepted: \(toml)")
        } catch {
            #expect(error.key == key, "\(error)")
            #expect(error.line == line, "\(error)")
        }
    }

    @Test("broken TOML is reported with its line")
    func brokenTOML() {
        do {
            _ = try ConfigLoader.parse(toml: "county = \"x\"\n[bus\n")
            Issue.record("accepted broken TOML")
        } catch {
            #expect(error.line == 2, "\(error)")
            #expect(error.message.hasPrefix("not valid TOML"))
        }
    }

    @Test("broken YAML is reported, not crashed on")
    func brokenYAML() {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "bus: [unclosed") }
    }

    @Test("pattern coverage decides subscribe ACLs", arguments: [
        ("incident.>", "incident.*", true), ("incident.*", "incident.>", false), ("incident.*", "incident.created", true),
        (">", "a.*.c", true), ("a.*.c", "a.b.c", true), ("a.b.c", "a.*.c", false), ("a.>", "a", false),
    ])
    func covers(acl: String, pattern: String, allowed: Bool) throws {
        #expect(try TopicPattern(acl).covers(TopicPattern(pattern)) == allowed)
    }
}

@Suite("Method paths")
struct MethodPathTests {
    @Test("well-formed paths are /package.Service/Method and nothing else", arguments: [
        ("/xunfang.dispatch.v1.Dispatch/Recommend", true),
        ("/a/b", true),
        ("/巡防.Service/查询", true),
        ("", false), ("/", false), ("//", false), ("/a", false), ("/a/", false), ("//b", false),
        ("a/b", false), ("/a/b/c", false), ("/a/b/", false), ("/a/*", false), ("/*/b", false),
        ("/a/" + String(repeating: "m", count: 253), false), ("/a/" + String(repeating: "m", count: 252), true),
    ])
    func validity(path: String, valid: Bool) {
        #expect(MethodPattern.isValidMethod(path) == valid)
    }
}
