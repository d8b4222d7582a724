import Foundation
import XunfangPluginKit
import CheckpointControlContract

/// The after-action report of a seal or drill: each position's time to seal against the
/// target, the misses, the slowest link and the timeline, as data and as one HTML page
/// (no scripts, no outside resources: it opens from a USB stick). Pure.
enum AfterAction {
    static func report(_ activation: SealActivation) -> Xunfang_Checkpoint_V1_AfterActionReport {
        let reviews = activation.positions.map { position in
            Xunfang_Checkpoint_V1_PositionReview.with {
                $0.position = position.id
                $0.name = position.name
                $0.responder = position.acknowledgedBy
                $0.secondsToSeal = position.state == .inPosition ? position.secondsToSeal : 0
                $0.late = position.late
                $0.missed = position.state != .inPosition
                $0.passOns = Int32(position.passedOver.count)
            }
        }.sorted(by: slowerFirst)
        var report = Xunfang_Checkpoint_V1_AfterActionReport.with {
            $0.activation = activation
            $0.positions = reviews
            $0.secondsToSeal = activation.sealedAt > 0 ? Double(activation.sealedAt - activation.activatedAt) / 1_000 : 0
            $0.withinTarget = activation.sealedAt > 0 && $0.secondsToSeal <= Double(activation.targetSeconds)
            $0.missed = Int32(reviews.filter(\.missed).count)
            $0.late = Int32(reviews.filter(\.late).count)
            $0.slowestPosition = reviews.first?.position ?? ""
        }
        report.html = html(report)
        return report
    }

    /// Misses first, then the slowest; ties by position id.
    static func slowerFirst(_ a: Xunfang_Checkpoint_V1_PositionReview, _ b: Xunfang_Checkpoint_V1_PositionReview) -> Bool {
        if a.missed != b.missed { return a.missed }
        if a.secondsToSeal != b.secondsToSeal { return a.secondsToSeal > b.secondsToSeal }
        return a.position < b.position
    }

    static func html(_ report: Xunfang_Checkpoint_V1_AfterActionReport) -> String {
        let activation = report.activation
        let target = Double(activation.targetSeconds)
        let title = "\(activation.drill ? "演练 Drill" : "封控 Seal"): \(activation.planName)"
        let verdict = activation.sealedAt == 0
            ? "Not sealed: \(report.missed) of \(activation.positions.count) positions never in position."
            : String(format: "Sealed in %.0f s against the %.0f s target%@.", report.secondsToSeal, target, report.withinTarget ? "" : ": over target")
        let longest = max(target, report.positions.map(\.secondsToSeal).max() ?? 0, 1)
        var rows = ""
        for review in report.positions {
            let width = review.missed ? 100 : review.secondsToSeal / longest * 100
            let colour = review.missed ? "#b00020" : review.late ? "#e08000" : "#2e7d32"
            let time = review.missed ? "missed" : String(format: "%.0f s", review.secondsToSeal)
            rows += """
            <tr><td>\(escape(review.position))</td><td>\(escape(review.name))</td><td>\(escape(review.responder.isEmpty ? "—" : review.responder))</td>\
            <td class="n">\(time)</td><td class="n">\(review.passOns)</td>\
            <td class="bar"><div style="width:\(String(format: "%.1f", width))%;background:\(colour)"></div>\
            <div class="target" style="left:\(String(format: "%.1f", target / longest * 100))%"></div></td></tr>

            """
        }
        var timeline = ""
        for event in activation.timeline {
            let offset = Double(event.at - activation.activatedAt) / 1_000
            timeline += "<tr><td>\(ChinaTime.format(milliseconds: event.at))</td><td class=\"n\">+\(String(format: "%.0f", offset)) s</td>"
                + "<td>\(escape(event.kind))</td><td>\(escape(event.position))</td><td>\(escape(event.responder))</td><td>\(escape(event.detail))</td></tr>\n"
        }
        return """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:2em}
        td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}td.n{text-align:right}
        td.bar{width:320px;position:relative}td.bar div{height:12px}
        div.target{position:absolute;top:0;bottom:0;width:2px;background:#000;height:auto!important}
        </style></head><body>
        <h1>\(escape(title))</h1>
        <p>Activation \(escape(activation.id)) at \(ChinaTime.format(milliseconds: activation.activatedAt)) (China time) by \(escape(activation.activatedBy)).\
        \(activation.reason.isEmpty ? "" : " Reason: \(escape(activation.reason)).")</p>
        <p><strong>\(escape(verdict))</strong> Late: \(report.late). Missed: \(report.missed). Slowest link: \(escape(report.slowestPosition)).</p>
        <h2>Time to seal by position</h2>
        <table><tr><th>Position</th><th>Name</th><th>Held by</th><th>Time</th><th>Pass-ons</th><th>Against the target (black line)</th></tr>
        \(rows)</table>
        <h2>Timeline</h2>
        <table><tr><th>China time</th><th>Offset</th><th>Event</th><th>Position</th><th>Who</th><th>Detail</th></tr>
        \(timeline)</table>
        </body></html>

        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
