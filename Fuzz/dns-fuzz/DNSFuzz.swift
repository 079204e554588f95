// libFuzzer target for DNSWire's parser. Built two ways (see scripts/fuzz.sh):
// - plain `swift build`: a replay tool; `dns-fuzz FILE...` runs each file through the target
//   (to reproduce a crash in a debugger, without the fuzzer);
// - with `-sanitize=fuzzer -DFUZZING`: the libFuzzer driver.
#if canImport(Glibc)
import Glibc
#endif
import DNSWire

/// Parse must return or throw. A message that parses must encode, and parse back equal; the
/// resolver's own responses to it must parse.
func fuzzOne(_ bytes: [UInt8]) {
    guard let m = try? DNSMessage.parse(bytes) else { return }
    let encoded: [UInt8]
    do { encoded = try m.encode() } catch { fatalError("parsed message does not encode: \(error)") }
    do {
        let again = try DNSMessage.parse(encoded)
        if again != m { fatalError("round trip differs:\n\(m)\n\(again)") }
    } catch { fatalError("encoding does not parse: \(error)") }
    do {
        let refusal = try DNSMessage.parse(try DNSResponse.refusal(to: m, rcode: 3))
        let null = try DNSMessage.parse(try DNSResponse.nullAnswer(to: m, ttl: 30))
        if refusal.id != m.id || refusal.questions != m.questions || null.questions != m.questions {
            fatalError("response does not echo the query")
        }
    } catch { fatalError("response does not build or parse: \(error)") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
// SwiftPM links executables with `main` renamed to this module's entry point, so the entry
// point starts libFuzzer's own driver instead of libFuzzer's `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main struct FuzzDriver {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput))
    }
}
#else
@main struct Replay {
    static func main() {
        var failed = false
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = readFile(path) else {
                print("\(path): cannot read")
                failed = true
                continue
            }
            fuzzOne(bytes)
            let outcome: String
            do { outcome = "parses, \(try DNSMessage.parse(bytes).answers.count) answers" } catch { outcome = "refused: \(error)" }
            print("\(path): no crash (\(bytes.count) bytes; \(outcome))")
        }
        exit(failed ? 1 : 0)
    }
}

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n <= 0 { break }
        out += chunk[..<n]
    }
    return ferror(f) == 0 ? out : nil
}
#endif
