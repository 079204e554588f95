import Control
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The control socket between `dronewall` and the daemon, over a private abstract name (no root
/// needed to run; the daemon answers only root, which these tests see either way).
@Suite struct ControlSocketTests {
    let endpoint = ControlEndpoint(name: "dronewall-test/\(getpid())-\(UInt32.random(in: 0...UInt32.max))")

    @Test func noDaemonMeansNoAnswerSoTheCommandWorksAlone() throws {
        #expect(try ControlClient.ask(ControlRequest(.status), endpoint: endpoint) == nil)
    }

    @Test func aRequestReachesTheDaemonAndItsAnswerComesBack() throws {
        let server = try ControlServer(endpoint: endpoint)
        #expect(throws: ControlError.self, "one daemon per name: a second cannot listen") {
            _ = try ControlServer(endpoint: endpoint)
        }
        final class Box: @unchecked Sendable { var reply: ControlReply?; var error: Error? }
        let box = Box()
        let client = Thread {
            do {
                box.reply = try ControlClient.ask(ControlRequest(.apply, config: "/etc/dw.conf", catalogue: ["/v"]),
                                                  endpoint: endpoint, timeoutSeconds: 10)
            } catch { box.error = error }
        }
        client.start()
        var waiting: [ControlServer.Pending] = []
        for _ in 0..<200 where waiting.isEmpty && box.reply == nil {
            waiting = server.takeWaiting()
            usleep(10_000)
        }
        if getuid() == 0 {
            let pending = try #require(waiting.first)
            #expect(pending.request == ControlRequest(.apply, config: "/etc/dw.conf", catalogue: ["/v"]))
            pending.reply(ControlReply(exitCode: 65, output: "", errors: "dronewall.conf:3:1: error: ...\n"))
            client.join()
            #expect(box.reply == ControlReply(exitCode: 65, output: "", errors: "dronewall.conf:3:1: error: ...\n"))
        } else {
            client.join()
            #expect(waiting.isEmpty, "requests of other users never reach the daemon")
            #expect(box.reply?.exitCode == 77)
        }
    }
}

/// A thread that can be waited for (Foundation's Thread has no join).
final class Thread: @unchecked Sendable {
    private var id = pthread_t()
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func start() {
        let box = Unmanaged.passRetained(self)
        pthread_create(&id, nil, { raw in
            let me = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, box.toOpaque())
    }
    func join() { pthread_join(id, nil) }
}
