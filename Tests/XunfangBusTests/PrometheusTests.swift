import Testing
import XunfangBus

@Suite("Prometheus exposition")
struct PrometheusTests {
    @Test("counters, per-plugin labels and a cumulative histogram in text format 0.0.4")
    func render() {
        var stats = BrokerStats()
        stats.published = 5
        stats.latencyBuckets[0] = 2   // <= 1 ms
        stats.latencyBuckets[2] = 1   // <= 5 ms
        let session = SessionSnapshot(instance: "grid \"a\"", plugin: "grid-model", framesIn: 3, framesOut: 4, bytesIn: 100, bytesOut: 200,
                                      subscriptions: 1, queuedDeliveries: 0, dropped: 0, serves: [])
        let text = PrometheusText.render(stats: stats, sessions: [session], durable: [],
                                         appending: "xunfang_supervisor_restarts_total{plugin=\"x\"} 2\n")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE xunfang_bus_published_total counter"))
        #expect(lines.contains("xunfang_bus_published_total 5"))
        #expect(lines.contains(#"xunfang_plugin_bytes_in_total{plugin="grid-model",instance="grid \"a\""} 100"#))
        #expect(lines.contains(#"xunfang_bus_request_latency_ms_bucket{le="1"} 2"#))
        #expect(lines.contains(#"xunfang_bus_request_latency_ms_bucket{le="2"} 2"#))
        #expect(lines.contains(#"xunfang_bus_request_latency_ms_bucket{le="5"} 3"#))
        #expect(lines.contains(#"xunfang_bus_request_latency_ms_bucket{le="+Inf"} 3"#))
        #expect(lines.contains("xunfang_bus_request_latency_ms_count 3"))
        #expect(lines.filter { $0 == "# TYPE xunfang_bus_request_latency_ms histogram" }.count == 1)
        #expect(lines.contains(#"xunfang_supervisor_restarts_total{plugin="x"} 2"#))
    }
}
