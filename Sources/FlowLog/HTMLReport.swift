/// One self-contained HTML page (no external assets) an operator can attach to an audit:
/// the window, the lost-event count, summary tables and an inline SVG chart of blocked
/// attempts over time per drone.
enum HTMLReport {
    static func render(_ r: Report) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>dronewall blocked-flow report</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse;margin:0 0 1.5em}
            th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
            td.n{text-align:right;font-variant-numeric:tabular-nums}
            th{background:#f2f2f2}
            .lost{font-weight:bold}
            </style></head><body>
            <h1>dronewall blocked-flow report</h1>

            """
        html += "<p>Window: \(esc(ReportRenderer.windowText(r))). Generated \(TimeText.iso8601(micros: r.generatedMicros)).</p>\n"
        html += "<p class=\"lost\">Lost events: \(r.lostEvents)"
        if r.overruns > 0 { html += " (plus \(r.overruns) receive-buffer overrun(s) of unknown size)" }
        html += "</p>\n"
        html += "<p>\(esc(ReportRenderer.kernelLine(r))).</p>\n"
        html += "<p>Total: \(r.totals.flows) flow(s), \(r.totals.attempts) attempt(s), \(r.totals.packets) packet(s), \(r.totals.bytes) byte(s).</p>\n"
        html += "<h2>Blocked attempts over time</h2>\n" + chart(r.buckets) + "\n"
        for (title, groups) in [("By drone", r.summary(by: .drone)), ("By vendor", r.summary(by: .vendor)),
                                ("By category", r.summary(by: .category))] {
            html += "<h2>\(title)</h2>\n" + table(header: [String(title.dropFirst(3)), "flows", "attempts", "packets", "bytes"],
                                                    rows: groups.map { [$0.values[0], String($0.flows), String($0.attempts),
                                                                        String($0.packets), String($0.bytes)] })
        }
        if !r.rows.isEmpty {
            html += "<h2>Flows</h2>\n" + table(header: ReportRenderer.flowHeader, rows: r.rows.map(ReportRenderer.flowFields))
        }
        html += "</body></html>\n"
        return html
    }

    static func table(header: [String], rows: [[String]]) -> String {
        var t = "<table><tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>\n"
        for row in rows {
            t += "<tr>" + row.map { f in
                let numeric = !f.isEmpty && f.allSatisfy(\.isNumber)
                return numeric ? "<td class=\"n\">\(f)</td>" : "<td>\(esc(f))</td>"
            }.joined() + "</tr>\n"
        }
        return t + "</table>\n"
    }

    /// A line per drone: attempts per time bucket.
    static func chart(_ buckets: [TimeBucket]) -> String {
        guard !buckets.isEmpty else { return "<p>No blocked attempts in this window.</p>" }
        let width = 720.0, height = 240.0, left = 50.0, bottom = 30.0, top = 10.0, right = 130.0
        let times = buckets.map(\.bucketStart)
        let t0 = times.min()!, t1 = max(times.max()!, t0 + 1)
        let maxY = Double(max(1, buckets.map(\.attempts).max()!))
        let drones = Array(Set(buckets.map(\.drone))).sorted()
        let palette = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        func x(_ t: Int64) -> Double { left + Double(t - t0) / Double(t1 - t0) * (width - left - right) }
        func y(_ v: Int64) -> Double { height - bottom - Double(v) / maxY * (height - bottom - top) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "role=\"img\" aria-label=\"blocked attempts over time per drone\">\n"
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"#444\"/>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"#444\"/>\n"
        svg += "<text x=\"\(left - 6)\" y=\"\(top + 10)\" font-size=\"11\" text-anchor=\"end\">\(Int(maxY))</text>\n"
        svg += "<text x=\"\(left - 6)\" y=\"\(height - bottom)\" font-size=\"11\" text-anchor=\"end\">0</text>\n"
        svg += "<text x=\"\(left)\" y=\"\(height - 8)\" font-size=\"11\">\(TimeText.iso8601(micros: t0))</text>\n"
        svg += "<text x=\"\(width - right)\" y=\"\(height - 8)\" font-size=\"11\" text-anchor=\"end\">\(TimeText.iso8601(micros: t1))</text>\n"
        for (i, drone) in drones.enumerated() {
            let color = palette[i % palette.count]
            let points = buckets.filter { $0.drone == drone }.map { "\(fmt(x($0.bucketStart))),\(fmt(y($0.attempts)))" }
            if points.count == 1 {
                let p = points[0].split(separator: ",")
                svg += "<circle cx=\"\(p[0])\" cy=\"\(p[1])\" r=\"3\" fill=\"\(color)\"/>\n"
            } else {
                svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            }
            svg += "<text x=\"\(width - right + 8)\" y=\"\(top + 14 + Double(i) * 16)\" font-size=\"12\" fill=\"\(color)\">\(esc(drone))</text>\n"
        }
        return svg + "</svg>"
    }

    static func fmt(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }

    static func esc(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

extension Report {
    /// Sums of the flow rows by one dimension (for the HTML summary tables).
    func summary(by d: ReportQuery.Dimension) -> [GroupRow] {
        var groups: [String: GroupRow] = [:]
        for f in rows {
            let v: String
            switch d {
            case .drone: v = f.drone
            case .vendor: v = f.vendor ?? "-"
            case .category: v = f.category
            case .destination: v = f.destination
            case .day: v = TimeText.day(micros: f.firstSeen)
            }
            var g = groups[v] ?? GroupRow(values: [v], flows: 0, attempts: 0, packets: 0, bytes: 0,
                                          firstSeen: f.firstSeen, lastSeen: f.lastSeen)
            g.flows += 1
            g.attempts += f.attempts
            g.packets += f.packets
            g.bytes += f.bytes
            g.firstSeen = min(g.firstSeen, f.firstSeen)
            g.lastSeen = max(g.lastSeen, f.lastSeen)
            groups[v] = g
        }
        return groups.values.sorted { ($0.attempts, $1.values[0]) > ($1.attempts, $0.values[0]) }
    }
}
