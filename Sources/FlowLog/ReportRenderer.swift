/// Renders a report as an aligned table, CSV, JSON or one self-contained HTML page.
public enum ReportFormat: String, Sendable, CaseIterable {
    case table, csv, json, html
}

public enum ReportRenderer {
    public static func render(_ r: Report, as format: ReportFormat) -> String {
        switch format {
        case .table: return table(r)
        case .csv: return csv(r)
        case .json: return json(r)
        case .html: return HTMLReport.render(r)
        }
    }

    // MARK: table

    static let flowHeader = ["first_seen", "last_seen", "drone", "vendor", "category", "verdict", "protocol",
                             "destination", "port", "host", "attempts", "packets", "bytes"]

    static func flowFields(_ f: FlowRow) -> [String] {
        [TimeText.iso8601(micros: f.firstSeen), TimeText.iso8601(micros: f.lastSeen), f.drone, f.vendor ?? "-",
         f.category, f.verdict.rawValue, f.proto.description, f.destination, f.port.map(String.init) ?? "-", f.host ?? "-",
         String(f.attempts), String(f.packets), String(f.bytes)]
    }

    static func groupHeader(_ q: ReportQuery) -> [String] {
        q.groupBy.map(\.rawValue) + ["flows", "attempts", "packets", "bytes", "first_seen", "last_seen"]
    }

    static func groupFields(_ g: GroupRow) -> [String] {
        g.values + [String(g.flows), String(g.attempts), String(g.packets), String(g.bytes),
                    TimeText.iso8601(micros: g.firstSeen), TimeText.iso8601(micros: g.lastSeen)]
    }

    static func windowText(_ r: Report) -> String {
        let since = r.query.sinceMicros.map { TimeText.iso8601(micros: $0) } ?? "the beginning"
        let until = r.query.untilMicros.map { TimeText.iso8601(micros: $0) } ?? "now"
        return "from \(since) to \(until)"
    }

    static func table(_ r: Report) -> String {
        var out = "dronewall blocked flows \(windowText(r)) (generated \(TimeText.iso8601(micros: r.generatedMicros)))\n"
        out += "lost events: \(r.lostEvents)\(r.overruns > 0 ? " (plus \(r.overruns) receive-buffer overrun(s) of unknown size)" : "")\n"
        out += kernelLine(r) + "\n\n"
        let header: [String], body: [[String]]
        if r.query.groupBy.isEmpty {
            header = flowHeader
            body = r.rows.map(flowFields)
        } else {
            header = groupHeader(r.query)
            body = r.groups.map(groupFields)
        }
        out += align([header] + body)
        out += "\ntotal: \(r.totals.flows) flow(s), \(r.totals.attempts) attempt(s), \(r.totals.packets) packet(s), "
            + "\(r.totals.bytes) byte(s); lost events: \(r.lostEvents)\n"
        return out
    }

    /// One line for standard error beside csv and json output, which carry only rows: the
    /// window, the lost-event count and the kernel totals are never silently left out.
    public static func summaryLine(_ r: Report) -> String {
        "dronewall report \(windowText(r)): \(r.query.groupBy.isEmpty ? r.rows.count : r.groups.count) row(s); "
            + "lost events: \(r.lostEvents)\(r.overruns > 0 ? " (plus \(r.overruns) receive-buffer overrun(s))" : ""); "
            + kernelLine(r) + "\n"
    }

    /// The kernel's exact counts; flow records are rate-limited samples of them.
    static func kernelLine(_ r: Report) -> String {
        guard r.kernelBlockedPackets >= 0 else { return "kernel counters: not broken down by vendor" }
        return "kernel counted: \(r.kernelBlockedPackets) packet(s) blocked, \(r.kernelWouldBlockPackets) would-block "
            + "(exact; the flow records below sample them at up to 10 a second per flow)"
    }

    static func align(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = first.map(\.count)
        for row in rows { for (i, f) in row.enumerated() { widths[i] = max(widths[i], f.count) } }
        return rows.map { row in
            row.enumerated().map { i, f in
                let padCount = widths[i] - f.count
                let numeric = !f.isEmpty && f.allSatisfy(\.isNumber)
                return numeric ? String(repeating: " ", count: padCount) + f : f + String(repeating: " ", count: padCount)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n") + "\n"
    }

    // MARK: csv

    static func csv(_ r: Report) -> String {
        let rows = r.query.groupBy.isEmpty ? [flowHeader] + r.rows.map(flowFields)
                                           : [groupHeader(r.query)] + r.groups.map(groupFields)
        return rows.map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    // MARK: json

    /// Without grouping: an array of flow objects (schema in README); with grouping: an array
    /// of group objects.
    static func json(_ r: Report) -> String {
        if r.query.groupBy.isEmpty {
            let items = r.rows.map { f -> String in
                JSONText.object([
                    ("drone", JSONText.string(f.drone)), ("vendor", f.vendor.map(JSONText.string) ?? "null"),
                    ("category", JSONText.string(f.category)), ("verdict", JSONText.string(f.verdict.rawValue)),
                    ("protocol", JSONText.string(f.proto.description)), ("source", JSONText.string(f.source)),
                    ("destination", JSONText.string(f.destination)), ("port", f.port.map(String.init) ?? "null"),
                    ("host", f.host.map(JSONText.string) ?? "null"), ("attempts", String(f.attempts)),
                    ("packets", String(f.packets)), ("bytes", String(f.bytes)),
                    ("first_seen", JSONText.string(TimeText.iso8601(micros: f.firstSeen))),
                    ("last_seen", JSONText.string(TimeText.iso8601(micros: f.lastSeen))),
                ])
            }
            return "[" + items.joined(separator: ",\n ") + "]\n"
        }
        let items = r.groups.map { g -> String in
            var fields = zip(r.query.groupBy, g.values).map { ($0.rawValue, JSONText.string($1)) }
            fields += [("flows", String(g.flows)), ("attempts", String(g.attempts)), ("packets", String(g.packets)),
                       ("bytes", String(g.bytes)), ("first_seen", JSONText.string(TimeText.iso8601(micros: g.firstSeen))),
                       ("last_seen", JSONText.string(TimeText.iso8601(micros: g.lastSeen)))]
            return JSONText.object(fields)
        }
        return "[" + items.joined(separator: ",\n ") + "]\n"
    }
}

/// Minimal JSON text building (RFC 8259 string escaping) without Foundation.
public enum JSONText {
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    public static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
