// libFuzzer target for the config and catalogue readers (DronewallConfig), on in-memory files.
// Built like dns-fuzz (see scripts/fuzz.sh): a replay tool in a plain build, the fuzzer with
// `-sanitize=fuzzer -DFUZZING`.
//
// The input is split at NUL bytes into up to three files: the main config, and two
// drones.d drop-ins. The first part is also read as a catalogue file.
#if canImport(Glibc)
import Glibc
#endif
import DronewallConfig

func fuzzOne(_ bytes: [UInt8]) {
    let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).map { Array($0) }
    var diags = Diagnostics()
    _ = IniParser.parse(bytes: parts[0], path: "fuzz.conf", diagnostics: &diags)
    _ = diags.rendered

    var files = ["/etc/dw/dronewall.conf": parts[0]]
    if parts.count > 1 { files["/etc/dw/drones.d/a.conf"] = parts[1] }
    if parts.count > 2 { files["/etc/dw/drones.d/b.conf"] = parts[2] }
    let (config, configDiags) = ConfigReader(reader: MemoryReader(bytes: files)).read(mainPath: "/etc/dw/dronewall.conf")
    _ = configDiags.rendered
    _ = config.drones.count

    let catalogueFiles = ["/usr/share/dw/fuzz.rules": parts[0]]
    let (catalogue, catalogueDiags) = CatalogueReader(reader: MemoryReader(bytes: catalogueFiles))
        .read(directories: ["/usr/share/dw"])
    _ = catalogueDiags.rendered
    _ = catalogue.vendors.count
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
// See dns-fuzz: the module's entry point starts libFuzzer's driver.
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
            print("\(path): no crash (\(bytes.count) bytes)")
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
