// libvchat from GJS through GObject Introspection: a random call between two
// real daemons driven only through VChat, and the peer's picture checked in
// decoded frames. tests/bindings/test_gjs.py starts the server and the
// daemons and runs this with:
//   VCHAT_BUS_A, VCHAT_BUS_B  the daemons' private bus addresses
//   VCHAT_COLOR_A, VCHAT_COLOR_B  their cameras' colours, "r,g,b"
// Prints "ok: ..." lines and exits 0 when everything held.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gst from 'gi://Gst?version=1.0';
import 'gi://GstApp?version=1.0'; // the AppSink API on appsink
import VChat from 'gi://VChat?version=1.0';
import System from 'system';

Gst.init(null);

const loop = new GLib.MainLoop(null, false);
let failure = null;

function fail(message) {
    failure = message;
    loop.quit();
}

function connectTo(address) {
    return Gio.DBusConnection.new_for_address_sync(address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, null, null);
}

// Wraps an _async/_finish pair in a Promise.
function call(obj, method, ...args) {
    return new Promise((resolve, reject) => {
        obj[`${method}_async`](...args, null, (o, res) => {
            try {
                resolve(o[`${method}_finish`](res));
            } catch (e) {
                reject(e);
            }
        });
    });
}

function waitFor(predicate, seconds, what, obj = null, signal = null) {
    return new Promise((resolve, reject) => {
        if (predicate()) {
            resolve();
            return;
        }
        let id = 0;
        const timeout = GLib.timeout_add(GLib.PRIORITY_DEFAULT, seconds * 1000, () => {
            if (id)
                obj.disconnect(id);
            clearInterval(poll);
            reject(new Error(`timed out after ${seconds}s waiting for ${what}`));
            return GLib.SOURCE_REMOVE;
        });
        const done = () => {
            if (!predicate())
                return;
            if (id)
                obj.disconnect(id);
            id = 0;
            GLib.source_remove(timeout);
            clearInterval(poll);
            resolve();
        };
        if (obj)
            id = obj.connect(signal, done);
        const poll = setInterval(done, 200);
    });
}

function sleep(ms) {
    return new Promise(resolve => setTimeout(resolve, ms));
}

function parseColor(s) {
    return s.split(',').map(Number);
}

function closeTo(color, expected) {
    return color.every((c, i) => Math.abs(c - expected[i]) <= 60);
}

function centreColor(data, w, h) {
    const sums = [0, 0, 0];
    let count = 0;
    for (let y = h / 4; y < h - h / 4; y++) {
        for (let x = w / 4; x < w - w / 4; x++) {
            const i = (y * w + x) * 3;
            sums[0] += data[i];
            sums[1] += data[i + 1];
            sums[2] += data[i + 2];
            count++;
        }
    }
    return sums.map(s => Math.round(s / count));
}

// The centre colour of a decoded frame of the call's picture; the pipeline
// is built again when no frame comes (the node may be young).
async function readColor(vcall, kind) {
    const w = 64, h = 48;
    let lastError = 'no frame';
    for (let attempt = 0; attempt < 6; attempt++) {
        let source;
        try {
            source = vcall.create_video_source(kind);
        } catch (e) {
            lastError = e.message;
            await sleep(500);
            continue;
        }
        const pipeline = new Gst.Pipeline();
        const rest = Gst.parse_bin_from_description(
            `videoconvert ! videoscale ! video/x-raw,format=RGB,width=${w},height=${h} ` +
            '! appsink name=sink sync=false', true);
        pipeline.add(source);
        pipeline.add(rest);
        source.link(rest);
        const sink = rest.get_by_name('sink');
        pipeline.set_state(Gst.State.PLAYING);
        let data = null;
        // pulling blocks this thread: the frames come from GStreamer's own
        for (let i = 0; i < 6; i++) {
            const sample = sink.try_pull_sample(3 * Gst.SECOND);
            if (!sample)
                break;
            const buf = sample.get_buffer();
            data = buf.extract_dup(0, buf.get_size());
        }
        pipeline.set_state(Gst.State.NULL);
        if (data && data.length >= w * h * 3)
            return centreColor(data, w, h);
        lastError = 'no frame within 3 s';
    }
    throw new Error(`no picture from the call: ${lastError}`);
}

async function main() {
    const colorA = parseColor(GLib.getenv('VCHAT_COLOR_A'));
    const colorB = parseColor(GLib.getenv('VCHAT_COLOR_B'));

    const clientA = VChat.Client.new_sync(connectTo(GLib.getenv('VCHAT_BUS_A')), null);
    const clientB = await new Promise((resolve, reject) => {
        VChat.Client.new_async(connectTo(GLib.getenv('VCHAT_BUS_B')), null, (_o, res) => {
            try {
                resolve(VChat.Client.new_finish(res));
            } catch (e) {
                reject(e);
            }
        });
    });
    for (const client of [clientA, clientB]) {
        await waitFor(() => client.signaling_state === VChat.SignalingState.ONLINE, 10,
            'the daemon to be online', client, 'notify::signaling-state');
    }
    print(`ok: clients ready (vchatd ${clientA.version})`);

    const callA = await call(clientA, 'start_random', ['gjs'], null, false);
    const callB = await call(clientB, 'start_random', null, null, false);
    for (const c of [callA, callB]) {
        await waitFor(() => c.state === VChat.CallState.CONNECTED, 30, 'the call to connect',
            c, 'notify::state');
    }
    print('ok: both calls connected');
    // A reader that comes before the first decoded picture gets nothing (a
    // PipeWire node without a format yet): wait until the stats say
    // pictures arrive.
    const decoding = c => {
        const stats = c.dup_stats();
        return stats !== null && stats.recv_width > 0 && stats.recv_fps > 0;
    };
    for (const c of [callA, callB])
        await waitFor(() => decoding(c), 20, 'pictures to arrive', c, 'notify::stats');

    const remoteA = await readColor(callA, VChat.VideoKind.REMOTE);
    if (!closeTo(remoteA, colorB))
        throw new Error(`A sees ${remoteA}, not B's camera ${colorB}`);
    const remoteB = await readColor(callB, VChat.VideoKind.REMOTE);
    if (!closeTo(remoteB, colorA))
        throw new Error(`B sees ${remoteB}, not A's camera ${colorA}`);
    print(`ok: A sees ${remoteA}, B sees ${remoteB}`);

    const received = [];
    callB.connect('message-received', (_c, text, _time) => received.push(text));
    await call(callA, 'send_message', 'hello from gjs');
    await waitFor(() => received.length > 0, 10, 'the message');
    if (received[0] !== 'hello from gjs')
        throw new Error(`B got ${received[0]}`);
    print('ok: message received');

    await call(callB, 'hangup');
    for (const c of [callA, callB]) {
        await waitFor(() => c.state === VChat.CallState.ENDED, 15, 'the call to end',
            c, 'notify::state');
    }
    if (callA.end_reason !== VChat.EndReason.PEER_HANGUP ||
        callB.end_reason !== VChat.EndReason.HANGUP)
        throw new Error(`end reasons ${callA.end_reason}, ${callB.end_reason}`);
    print('ok: hung up');
}

main().then(() => loop.quit(), e => fail(`${e}\n${e.stack ?? ''}`));
loop.run();
if (failure) {
    printerr(`FAIL: ${failure}`);
    System.exit(1);
}
