/*
 * vchat web client (signaling protocol v1, see docs/protocol.md).
 *
 * Served by vchat-signald at "/" and at "/join/CODE"; the WebSocket is
 * ws(s)://<this host>/ws. Plain script, no build step, no outside resources.
 *
 * For tests and debugging the page exposes `window.vchat`:
 *
 *   state            call state: "idle" | "searching" (in the random queue) |
 *                    "joining" (invite_join sent) | "ringing" (waiting for the
 *                    inviter) | "incoming" (someone joined our invite) |
 *                    "connecting" (matched, WebRTC negotiating) | "connected" |
 *                    "reconnecting" (the call goes on, a new peer connection
 *                    is being negotiated after the path broke)
 *   signaling        "offline" | "connecting" | "online" | "reconnecting"
 *   session          our session id (from welcome), or null
 *   call             the current call: { id, kind, inviter, role, peer,
 *                    commonInterests } or null
 *   pc, channel      the current RTCPeerConnection and "chat" RTCDataChannel
 *   attempt          the call's current connection attempt (0 at `matched`;
 *                    see "Reconnecting a call" in docs/protocol.md)
 *   reconnecting     true while the call is being reconnected
 *   reconnects       how often the current call was reconnected
 *   reconnectTimeout ms without a connection before the page gives up
 *                    (30000; a test may open the page with
 *                    #reconnect-timeout=SECONDS)
 *   localStream      the camera/microphone MediaStream, or null
 *   messages         chat texts received from the peer during the current
 *                    call (cleared when a new call starts)
 *   lastError        last error shown to the user: { code, message, ref }
 *                    (server `error` messages, and local ones with codes
 *                    like "camera", "webrtc", "invite", "interests";
 *                    "reconnect" and "peer-lost" end a call whose
 *                    connection could not be restored)
 *   errors           every error seen, oldest first; server errors that are a
 *                    harmless race (unknown-call for a call that just ended,
 *                    bad-state for a leave that crossed a match) have
 *                    `quiet: true` and are not shown
 *   invite           last `invite` message { code, link, web_link, expires }
 *   inviteLink       its web_link (null when there is no open invite)
 *   incoming         { call, peer, code } while an invite call rings us
 *   lastPeerLeft     last `peer_left` message
 *   log              recent protocol events, as short strings (no SDP)
 *
 *   allowCamera()            -> Promise<MediaStream|null>
 *   start({interests, language}) -> Promise<bool>: join the random queue
 *                            (after asking for the camera); interests is an
 *                            array or a comma-separated string; without an
 *                            argument the form fields are used
 *   next()                   leave the current random call, queue again
 *   stop()                   leave the call / queue / ringing, or decline
 *   createInvite({ttl}?)     -> Promise<web_link>
 *   join(codeOrLink, {now}?) -> Promise<bool>: join an invite (after asking
 *                            for the camera, unless now is true)
 *   accept(), reject()       answer an incoming invite call
 *   sendChat(text)           -> true if sent over the data channel
 *   dropConnection()         close the WebSocket as a network failure would;
 *                            the page reconnects and resumes (for tests)
 *   restart()                throw the call's peer connection away and start a
 *                            new attempt, as when the page sees the path
 *                            broken (for tests); -> true if there was a call
 *   setMuted(bool), setCamera(bool)  microphone muted / camera on (the local
 *                            track is disabled: silence / black frames)
 *   report(reason)           `report` the current call, then Next (Stop for
 *                            an invite call)
 *   block()                  remember the peer (web peers: the id they send
 *                            on the control channel; others: their name) and
 *                            move on; a blocked peer met again is skipped
 *   muted, cameraOn          our own microphone / camera state
 *   peerMedia                { muted, camera } as a web peer last told us
 *   peerTyping               true while "is typing…" shows
 *   switchCamera(deviceId)   -> Promise<bool>: use another camera; its track
 *                            replaces ours in the call (replaceTrack, no new
 *                            offer); remembered in localStorage
 *   listCameras()            -> Promise<[{id, label}]>; cameras: the last list
 *   cameraSwitches           how often the camera was switched
 *   quality                  { word, rttMs, lossPct, fps, freezeMs, targetKbps }
 *                            from getStats once a second in a connected call
 *   qualityOf(q)             the word for such figures: vchatd's rule (Call
 *                            XML `Quality`): "good" | "fair" | "poor"
 *   requireCamera            random calls only with a camera on (the
 *                            "Only with my camera on" box; default true)
 *   connectTimeout           ms a call may take to connect at first before
 *                            it ends as unreachable (30000; #connect-timeout=S)
 *   offerNext                after a random call that never connected: the
 *                            queue options Next uses, else null
 *   chime                    { count, peak, state }: the incoming-call sound
 *                            (times played, peak level that reached the output,
 *                            the AudioContext's state)
 *
 * Control channel: between two web clients (the peer's `client` starts with
 * "web/") the offerer opens a second data channel, "ctl", next to "chat".
 * It carries JSON objects: {"type":"hello","id"} (a random id the page keeps,
 * for Block),
 * {"type":"state","muted","camera"}, {"type":"typing"}. The "chat" channel
 * keeps carrying plain text only, as vchatd expects (it treats every
 * message there as chat). vchatd, always the offerer against a web client,
 * opens "ctl" itself and speaks state and typing on it (not hello).
 */
(function () {
  'use strict';

  const CLIENT = 'web/0.1';
  const MAX_INTERESTS = 16;
  const MAX_INTEREST_BYTES = 32;
  const MAX_CHAT = 2000;
  const MAX_NAME_BYTES = 64;
  const TYPING_SHOW_MS = 3000;     // "is typing…" goes after this without news
  const TYPING_SEND_MS = 1000;     // at most one typing message per second
  const ESC_CONFIRM_MS = 2000;     // the second Esc within this does Next
  // Reconnecting a call (docs/protocol.md): a connection that stays
  // "disconnected" this long is broken; a new attempt that has not connected
  // after ATTEMPT_WAIT_MS is followed by another; our own restarts are at
  // least RESTART_GAPS_MS apart (growing); the page gives up after
  // reconnectTimeout without a connection.
  const DISCONNECT_GRACE_MS = 3000;
  const ATTEMPT_WAIT_MS = 10000;
  const RESTART_GAPS_MS = [2000, 4000, 8000];
  // A peer whose socket closed (`peer_away`) this long while our media is
  // stopped has vanished: the call ends instead of reconnecting to nobody.
  const PEER_AWAY_MS = 4000;
  // After our own restart the old connection is closed once the peer has
  // signalled for the new attempt (so it had our restart first), or after
  // this long: closed at once, its end can reach a peer whose path works
  // before the restart does (vchatd then takes it for a media failure).
  const RETIRE_MS = 2000;
  const MAX_ATTEMPT = 10000;
  // A call that has not connected this long after `matched` has no path
  // between the two sides (e.g. only mDNS .local host candidates and no
  // STUN/TURN): it ends, both sides are told, and Next is offered. 30 s, as
  // vchatd ends a call that never connected (reconnect-timeout, reason
  // `network`); #connect-timeout=SECONDS for tests.
  const CONNECT_TIMEOUT_MS = 30000;
  const QUALITY_MS = 1000;         // getStats() once a second while in a call
  const QUALITY_WINDOW_MS = 3000;  // rates over the last 3 s
  const RING_REPEAT_MS = 6000;     // the incoming-call sound, again while it rings
  const RING_MAX = 10;
  const $ = (id) => document.getElementById(id);
  const utf8len = (s) => new TextEncoder().encode(s).length;

  const ui = {
    signalBadge: $('signal-badge'), signalState: $('signal-state'),
    peerBadge: $('peer-badge'), peerState: $('peer-state'),
    remoteVideo: $('remote-video'), remoteStill: $('remote-still'), localVideo: $('local-video'),
    overlay: $('remote-overlay'), overlayText: $('overlay-text'), spinner: $('spinner'),
    peerInfo: $('peer-info'), unmute: $('unmute-btn'),
    cameraBtn: $('camera-btn'), localWrap: $('local-wrap'),
    start: $('start-btn'), next: $('next-btn'), stop: $('stop-btn'), inviteBtn: $('invite-btn'),
    status: $('status'),
    incomingCard: $('incoming-card'), incomingName: $('incoming-name'),
    accept: $('accept-btn'), reject: $('reject-btn'),
    joinCard: $('join-card'), joinHint: $('join-hint'), joinBtn: $('join-btn'),
    interests: $('interests'), language: $('language'),
    inviteBox: $('invite-box'), inviteEmpty: $('invite-empty'), inviteLink: $('invite-link'),
    inviteExpires: $('invite-expires'), copy: $('copy-btn'),
    codeForm: $('code-form'), codeInput: $('code-input'),
    messages: $('messages'), chatForm: $('chat-form'), chatInput: $('chat-input'), send: $('send-btn'),
    peerMuted: $('peer-muted'), peerCamera: $('peer-camera'), typing: $('typing'),
    mute: $('mute-btn'), video: $('video-btn'), reportBtn: $('report-btn'), blockBtn: $('block-btn'),
    reportForm: $('report-form'), reportReason: $('report-reason'), reportCancel: $('report-cancel'),
    offline: $('offline-line'), name: $('name'),
    cameraSelect: $('camera-select'), cameraPick: $('camera-pick'), requireCamera: $('require-camera'),
    qualityBadge: $('quality-badge'), quality: $('quality'), qualityDetail: $('quality-detail'),
    why: $('controls-why'), announce: $('announce'),
  };

  /* ---------------------------------------------------------------- state */

  const st = {
    state: 'idle',
    signaling: 'offline',
    session: null,
    resume: null,
    iceServers: [],
    limits: null,
    call: null,
    incoming: null,
    ringing: null,          // call id while we wait for an inviter
    queueOpts: null,        // last `queue` we sent, for re-queueing
    invite: null,
    pc: null,
    channel: null,
    localStream: null,
    pendingIce: [],
    attempt: 0,             // the call's connection attempt (highest seen)
    reconnects: 0,          // reconnections of the current call
    reconnect: null,        // while reconnecting: { since, restarts, lastRestart, retryTimer, giveUpTimer }
    peerAwaySince: 0,       // when the server said the peer's socket closed (0: it is there)
    reconnectTimeout: 30000,
    sigChain: Promise.resolve(),
    messages: [],
    lastError: null,
    errors: [],
    lastPeerLeft: null,
    log: [],
    cameraState: 'none',    // none | asking | allowed | denied
    pendingJoin: null,      // invite code from /join/CODE not yet joined
    ctl: null,              // the "ctl" data channel (web and vchatd peers)
    muted: false,           // our microphone is muted
    cameraOn: true,         // our camera sends pictures
    peerMedia: null,        // { muted, camera } from a web peer
    peerId: null,           // the id a web peer sent on the control channel
    peerTyping: false,
    blocked: [],            // ids ("id:...") and names ("name:...") we blocked
    myId: null,             // our own id for the control channel (kept in localStorage)
    everOnline: false,      // the socket was welcomed once (for the offline line)
    cameras: [],            // [{ id, label }] from enumerateDevices (after the camera was allowed)
    cameraSwitches: 0,      // how often the camera was switched (replaceTrack)
    requireCamera: true,    // random calls only with our camera on (setting, kept in localStorage)
    quality: null,          // { word, rttMs, lossPct, fps, freezeMs, targetKbps } during a call
    connectTimeout: CONNECT_TIMEOUT_MS,
    offerNext: null,        // after a random call that never connected: the queue options for Next
    chime: { count: 0, peak: 0, state: null },   // the incoming-call sound (for tests)
  };

  function log(text) {
    st.log.push(new Date().toISOString().slice(11, 23) + ' ' + text);
    if (st.log.length > 300) st.log.splice(0, st.log.length - 300);
  }

  /* ------------------------------------------------------------ signaling */

  let ws = null;
  let welcomed = false;
  let leaving = false;
  let reconnectDelay = 500;
  let reconnectTimer = null;
  let lastHeard = 0;
  let probeTimer = null;    // a ping is out: is the socket alive? (checkServer)
  const outbox = [];        // messages waiting for a welcome, or for a probe's answer
  const sendQueue = [];     // messages waiting for the rate limiter
  let tokens = 20, tokenRate = 10, tokenBurst = 20, tokenTime = performance.now(), drainTimer = null;
  const waiters = [];       // { types, resolve, reject, ref, id }
  let requestCount = 0;     // the ids of invite_create, invite_join and queue
  const lastId = {};        // type → the id of the latest request of that type

  /* Requests whose answers come later carry an id (docs/protocol.md,
   * "Request ids"), and their answers are matched by it: an answer to an
   * earlier request (one we stopped waiting for) is not taken for the
   * answer to the latest. */
  function withId(msg) {
    msg.id = 'w' + (++requestCount);
    lastId[msg.type] = msg.id;
    return msg;
  }

  /* An answer carrying the id of an earlier request of @type than the latest. */
  function staleAnswer(msg, type) {
    return typeof msg.id === 'string' && lastId[type] !== undefined && msg.id !== lastId[type];
  }

  function wsUrl() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    setSignaling(st.resume ? 'reconnecting' : 'connecting');
    let sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch (e) {
      log('websocket: ' + e);
      scheduleReconnect();
      return;
    }
    ws = sock;
    welcomed = false;
    sock.onopen = () => {
      if (sock !== ws) return;
      lastHeard = Date.now();
      const hello = { type: 'hello', version: 1, client: CLIENT };
      if (st.resume) hello.resume = st.resume;
      const name = cleanName(ui.name.value);
      if (name) hello.name = name;
      helloName = name;
      const token = accessToken();
      if (token) hello.token = token;
      rawSend(hello);
    };
    sock.onmessage = (ev) => {
      if (sock !== ws) return;
      lastHeard = Date.now();
      if (probeTimer) probeAnswered();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        log('bad frame from server');
        return;
      }
      if (!msg || typeof msg.type !== 'string') return;
      handle(msg);
    };
    sock.onclose = (ev) => {
      if (sock !== ws) return;
      ws = null;
      welcomed = false;
      log('socket closed ' + ev.code);
      if (leaving) return;
      if (ev.code === 4003) {
        // unauthorized: the error before the close said why; retrying with
        // the same token cannot help.
        setSignaling('offline');
        showStatus('This server needs an access token: open the page as ' +
          location.origin + location.pathname + '#token=TOKEN (ask the server\'s operator for it).', 'error');
        return;
      }
      if (ev.code === 4000) {
        setSignaling('offline');
        showStatus('This session was taken over by another window. Reload the page to use it here.', 'error');
        return;
      }
      scheduleReconnect();
    };
  }

  /* A parameter in the page address's fragment (#token=...&name=value),
   * which never reaches the server's logs. */
  function hashParam(name) {
    const m = new RegExp('(?:^#|&)' + name + '=([^&]*)').exec(location.hash);
    if (!m) return null;
    try {
      return decodeURIComponent(m[1]) || null;
    } catch (e) {
      return null;
    }
  }

  /* A private server's access token, from the page address
   * (https://host/#token=...). */
  function accessToken() {
    return hashParam('token');
  }

  function scheduleReconnect() {
    if (leaving || reconnectTimer) return;
    setSignaling(st.resume ? 'reconnecting' : 'offline');
    const delay = reconnectDelay + Math.random() * 250;
    reconnectDelay = Math.min(Math.max(reconnectDelay * 2, 500), 8000);
    reconnectTimer = setTimeout(connect, delay);
    render();
  }

  /* A socket that hears nothing for long is dead even if no close came;
   * drop it without code 1000 so that the server keeps the session. */
  setInterval(() => {
    if (!ws || ws.readyState !== WebSocket.OPEN || !welcomed) return;
    const quiet = Date.now() - lastHeard;
    if (quiet > 65000) {
      log('socket silent, reconnecting');
      const old = ws;
      ws = null;
      welcomed = false;
      try { old.close(4100, 'stale'); } catch (e) { /* ignore */ }
      scheduleReconnect();
    } else if (quiet > 25000) {
      rawSend({ type: 'ping' });
    }
  }, 5000);

  /* Is the socket alive? A path that broke (a cut, a new network) leaves
   * it open with nobody at the other end, and TCP says so only after
   * minutes. Asked when a call's connection breaks or the browser says the
   * network changed: the server answers a ping within 3 s or the socket is
   * given up and the session resumed on a new one. Meanwhile messages wait
   * in the outbox instead of going into a socket that may be dead. */
  function checkServer(why) {
    if (probeTimer || !ws || ws.readyState !== WebSocket.OPEN || !welcomed) return;
    log('asking the server whether the connection still works: ' + why);
    rawSend({ type: 'ping' });
    probeTimer = setTimeout(() => {
      probeTimer = null;
      if (!ws) return;
      log('no answer from the server; connecting again');
      const old = ws;
      ws = null;
      welcomed = false;
      try { old.close(4100, 'no answer'); } catch (e) { /* ignore */ }
      reconnectDelay = 0;
      scheduleReconnect();
    }, 3000);
  }

  function probeAnswered() {
    clearTimeout(probeTimer);
    probeTimer = null;
    const held = outbox.splice(0);
    for (const m of held) send(m);
  }

  window.addEventListener('online', () => checkServer('the browser is online again'));
  if (navigator.connection && navigator.connection.addEventListener) {
    navigator.connection.addEventListener('change', () => checkServer('the network changed'));
  }

  function rawSend(msg) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    if (msg.type !== 'pong' && msg.type !== 'ping') log('> ' + msg.type);
    return true;
  }

  /* Everything except hello/pong goes through a token bucket kept below the
   * server's max_rate, so a burst of ICE candidates is never rate-limited. */
  function send(msg) {
    if (!welcomed || probeTimer) {
      outbox.push(msg);
      return;
    }
    sendQueue.push(msg);
    drain();
  }

  function drain() {
    const now = performance.now();
    tokens = Math.min(tokenBurst, tokens + (now - tokenTime) * tokenRate / 1000);
    tokenTime = now;
    while (sendQueue.length && tokens >= 1 && welcomed) {
      const msg = sendQueue.shift();
      if (!rawSend(msg)) {
        sendQueue.unshift(msg);
        break;
      }
      tokens -= 1;
    }
    if (sendQueue.length && !drainTimer && welcomed) {
      drainTimer = setTimeout(() => { drainTimer = null; drain(); }, Math.ceil(1000 / tokenRate));
    }
  }

  function waitFor(types, ref, timeoutMs, id) {
    return new Promise((resolve, reject) => {
      const w = { types, ref, resolve, reject, id };
      waiters.push(w);
      setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) {
          waiters.splice(i, 1);
          reject(new Error('no answer from the server'));
        }
      }, timeoutMs || 15000);
    });
  }

  function settleWaiters(msg) {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      if (w.id !== undefined && msg.id !== w.id) continue;
      if (w.types.includes(msg.type)) {
        waiters.splice(i, 1);
        w.resolve(msg);
      } else if (msg.type === 'error' && msg.ref === w.ref) {
        waiters.splice(i, 1);
        w.reject(Object.assign(new Error(msg.message), { code: msg.code }));
      }
    }
  }

  /* ------------------------------------------------------------- messages */

  function handle(msg) {
    if (msg.type !== 'ping' && msg.type !== 'pong') {
      log('< ' + msg.type + (msg.reason ? ' ' + msg.reason : '') +
        (msg.type === 'error' ? ' ' + msg.code + (msg.ref ? ' (' + msg.ref + ')' : '') : '') +
        (msg.type === 'welcome' && msg.resumed ? ' resumed' : ''));
    }
    switch (msg.type) {
      case 'welcome': onWelcome(msg); break;
      case 'ping': rawSend({ type: 'pong' }); break;
      case 'pong': break;
      case 'queued':
        if (staleAnswer(msg, 'queue')) break;
        if (st.state === 'idle' || st.state === 'searching') setState('searching');
        break;
      case 'left_queue':
        if (st.state === 'searching') setState('idle');
        break;
      case 'matched': takeIceServers(msg); onMatched(msg); break;
      case 'invite':
        if (!staleAnswer(msg, 'invite_create')) onInvite(msg);
        break;
      case 'invite_cancelled':
      case 'invite_expired':
        if (st.invite && st.invite.code === msg.code) {
          clearInvite();
          if (msg.type === 'invite_expired') showStatus('Your invite link expired. Create a new one to invite someone.');
        }
        break;
      case 'incoming': takeIceServers(msg); onIncoming(msg); break;
      case 'ringing':
        if (st.state !== 'joining' || staleAnswer(msg, 'invite_join')) {
          // We stopped while invite_join was on its way.
          send({ type: 'leave', call: msg.call });
          break;
        }
        st.ringing = msg.call;
        setState('ringing');
        showStatus('');
        break;
      case 'signal':
        st.sigChain = st.sigChain.then(() => onSignal(msg)).catch((e) => {
          log('signal error: ' + e);
          // Errors of a call that ended meanwhile (closed pc) do not matter.
          if (st.call && st.call.id === msg.call) localError('webrtc', 'Could not set up the connection: ' + e.message);
        });
        break;
      case 'peer_left': onPeerLeft(msg); break;
      case 'rejoined':
        if (st.call && st.call.id === msg.call) {
          log('the server knows the call again');
          if (st.pc && st.pc.connectionState !== 'connected') restartCall('the server knows the call again', true);
        }
        break;
      case 'peer_away':
        if (st.call && st.call.id === msg.call) {
          st.peerAwaySince = msg.away ? Date.now() : 0;
          checkPeerAway();
          // The peer is back on a new connection: what the server sent it on
          // the old one may be lost. The offerer starts a broken call again.
          if (!msg.away && st.reconnect && st.call.role === 'offerer' && st.pc &&
              st.pc.connectionState !== 'connected') {
            restartCall('the peer is back at the server', true);
          }
        }
        break;
      case 'call_ended':
        if (st.call && st.call.id === msg.call) endCall();
        break;
      case 'reported':
        showStatus('Thanks, your report was sent.');
        break;
      case 'error': onError(msg); break;
      default: break;   // later protocol versions may add messages
    }
    settleWaiters(msg);
  }

  function onWelcome(msg) {
    const hadSession = st.session !== null;
    welcomed = true;
    st.everOnline = true;
    reconnectDelay = 500;
    st.resume = msg.resume;
    st.iceServers = Array.isArray(msg.ice_servers) ? msg.ice_servers : [];
    st.limits = msg.limits || null;
    if (st.limits && st.limits.max_rate > 0) {
      tokenRate = Math.max(1, Math.floor(st.limits.max_rate * 0.6));
      tokenBurst = Math.max(1, tokenRate * 2);
      tokens = Math.min(tokens, tokenBurst);
    }
    if (msg.resumed) {
      st.session = msg.session;
      setSignaling('online');
      // A restart made while the socket was down goes out now; without one, a
      // call whose path is not up gets one (the network may have changed).
      const restartQueued = st.call && outbox.some((m) => m.restart && m.call === st.call.id && m.attempt === st.attempt);
      flushOutbox(true);
      if (st.call && st.pc && st.pc.connectionState !== 'connected' && !restartQueued) {
        restartCall('signaling resumed', true);
      }
      return;
    }
    st.session = msg.session;
    setSignaling('online');
    if (hadSession && st.call && st.call.secret &&
        ['connecting', 'connected', 'reconnecting'].includes(st.state)) {
      // The server forgot us (it restarted), but the call's media does not
      // need it: ask the new server to pair the call again with its secret
      // (docs/protocol.md, "A server that restarted"). Other things we were
      // doing ended with the old session.
      st.ringing = null;
      hideIncoming();
      clearInvite();
      flushOutbox(false);
      send({ type: 'rejoin', call: st.call.id, secret: st.call.secret, kind: st.call.kind });
      log('the server forgot the call; asking it to pair us again');
      return;
    }
    if (hadSession) {
      // The server forgot us: whatever we were doing ended with the old session.
      const wasSearching = st.state === 'searching';
      const hadCall = st.call || st.ringing || st.incoming;
      if (st.call) endCall();
      st.ringing = null;
      hideIncoming();
      clearInvite();
      if (hadCall) showStatus('The connection to the server was lost and the call ended.', 'error');
      const joinPending = [...outbox, ...sendQueue].some((m) => m.type === 'invite_join');
      if (wasSearching && st.queueOpts) {
        send(withId(Object.assign({ type: 'queue' }, st.queueOpts)));
      } else if (!(st.state === 'joining' && joinPending)) {
        setState('idle');
      }
    }
    flushOutbox(false);
  }

  function flushOutbox(resumed) {
    // Messages about a call belong to the old session unless it was resumed.
    if (!resumed) dropPending((m) => m.call);
    const msgs = outbox.splice(0);
    for (const m of msgs) send(m);
  }

  function onError(msg) {
    // A message about a call that ended meanwhile (the peer left while our
    // ICE candidates or our own leave were on the way) is a harmless race.
    // Likewise a `leave` of the queue that crossed a `matched` on its way.
    const stale = (msg.code === 'unknown-call' && !st.call && ['signal', 'leave', 'next', 'reject', 'report'].includes(msg.ref)) ||
      (msg.code === 'bad-state' && msg.ref === 'leave' && st.state === 'idle') ||
      (['queue', 'invite_join', 'invite_create'].includes(msg.ref) && staleAnswer(msg, msg.ref));
    recordError(msg.code, msg.message || msg.code, msg.ref, stale);
    if (stale) return;
    showStatus(msg.message || ('Server error: ' + msg.code), 'error');
    // The message it answered had no effect: undo what we assumed.
    switch (msg.ref) {
      case 'queue':
        if (st.state === 'searching') setState('idle');
        break;
      case 'invite_join':
        if (st.state === 'joining') setState('idle');
        break;
      case 'accept':
        if (st.state === 'connecting' && !st.call) {
          hideIncoming();
          setState('idle');
        }
        break;
      default:
        break;
    }
  }

  function recordError(code, message, ref, quiet) {
    const e = { code, message, ref: ref || null };
    if (quiet) {
      e.quiet = true;   // kept for debugging, not shown
    } else {
      st.lastError = e;
    }
    st.errors.push(e);
  }

  function localError(code, message) {
    recordError(code, message, null);
    showStatus(message, 'error');
  }

  /* ----------------------------------------------------------------- calls */

  function onMatched(msg) {
    if (st.state === 'idle') {
      // We stopped while the match was on its way: leave the call at once.
      send({ type: 'leave', call: msg.call });
      return;
    }
    if (st.call) teardown();
    const inviter = !!(st.incoming && st.incoming.call === msg.call);
    if (inviter) hideIncoming();   // another incoming call stays on offer
    st.ringing = null;
    st.call = {
      id: msg.call,
      kind: msg.kind || 'random',
      inviter,
      role: msg.role,
      peer: msg.peer || {},
      commonInterests: Array.isArray(msg.common_interests) ? msg.common_interests.map(plainText) : [],
      // Lets a restarted server pair this call again (see onWelcome).
      secret: typeof msg.secret === 'string' ? msg.secret : null,
      startedAt: Date.now(),
      everConnected: false,   // a first connection came up (then it reconnects instead of timing out)
    };
    st.offerNext = null;
    st.attempt = 0;
    st.reconnects = 0;
    st.peerAwaySince = 0;
    st.messages.length = 0;
    ui.messages.textContent = '';
    addChatLine('sys', 'Connected to ' + peerName(st.call.peer) + '.' +
      (st.call.commonInterests.length ? ' You both like ' + st.call.commonInterests.join(', ') + '.' : ''));
    setState('connecting');
    showStatus('Connecting to ' + peerName(st.call.peer) + '…');
    if (st.call.kind === 'random' && !isWebPeer() && typeof st.call.peer.name === 'string' &&
        st.call.peer.name.trim() && st.blocked.includes('name:' + st.call.peer.name.trim())) {
      skipBlocked();
      return;
    }
    createPeer();
    armConnectTimer();
    if (st.call.role === 'offerer') startOffer(false);
  }

  /* ------------------------------------------------ a call that never connects */

  let connectTimer = null;

  function armConnectTimer() {
    clearTimeout(connectTimer);
    const call = st.call;
    connectTimer = setTimeout(() => {
      connectTimer = null;
      if (st.call !== call || call.everConnected) return;
      log('no connection after ' + st.connectTimeout / 1000 + ' s: giving up');
      noPath(true);
    }, st.connectTimeout);
  }

  /* The call never connected: there is no path between the two networks
   * (no STUN/TURN, mDNS names nobody resolves, a firewall). mine: our side
   * gave up (the peer gets `leave` as `peer_left` hangup and shows the
   * same); otherwise the peer did. */
  function noPath(mine) {
    const call = st.call;
    if (!call) return;
    if (mine) send({ type: 'leave', call: call.id });
    const name = peerName(call.peer);
    endCall();
    setState('idle');
    if (call.kind === 'random') st.offerNext = Object.assign({}, st.queueOpts || {});
    render();
    localError('no-path', 'Could not reach ' + (call.kind === 'random' ? 'your partner' : name) +
      '\u2019s network: the call never connected' + (mine ? '' : ' (their side gave up, or they left)') +
      '. Your networks or firewalls do not let a direct connection through, and no relay could help. ' +
      (call.kind === 'random'
        ? 'Press Next to meet someone else.'
        : 'Try again from another network (mobile data often works), or press Start to meet someone new.'));
  }

  /* The offerer (in every attempt) opens the chat channel and sends the
   * offer of the current attempt. inChain: called from inside st.sigChain
   * (then the returned promise is awaited there instead of queued). */
  function startOffer(inChain) {
    const pc = st.pc;
    const callId = st.call.id;
    const attempt = st.attempt;
    setupChannel(pc.createDataChannel('chat'));
    if (isWebPeer()) setupCtl(pc.createDataChannel('ctl'));
    const work = async () => {
      try {
        const offer = await pc.createOffer();
        if (pc !== st.pc) return;
        await pc.setLocalDescription(offer);
        if (pc !== st.pc) return;
        send({ type: 'signal', call: callId, attempt, sdp: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      } catch (e) {
        if (pc === st.pc) localError('webrtc', 'Could not create the call offer: ' + e.message);
      }
    };
    if (inChain) return work();
    st.sigChain = st.sigChain.then(work);
    return null;
  }

  // TURN servers (with credentials) come with the call they are for, in
  // `matched` and `incoming`; `welcome` carries the STUN servers.
  function takeIceServers(msg) {
    if (Array.isArray(msg.ice_servers)) st.iceServers = msg.ice_servers;
  }

  function rtcIceServers() {
    const out = [];
    for (const s of st.iceServers) {
      if (!s || !s.urls) continue;
      let urls = Array.isArray(s.urls) ? s.urls : [s.urls];
      const creds = typeof s.username === 'string' && typeof s.credential === 'string';
      // The browser refuses TURN URLs without credentials; keep the STUN ones.
      if (!creds) urls = urls.filter((u) => /^stuns?:/i.test(u));
      if (!urls.length) continue;
      const entry = { urls };
      if (creds) {
        entry.username = s.username;
        entry.credential = s.credential;
      }
      out.push(entry);
    }
    return out;
  }

  function createPeer() {
    let pc;
    try {
      pc = new RTCPeerConnection({ iceServers: rtcIceServers() });
    } catch (e) {
      log('RTCPeerConnection with ice servers failed: ' + e);
      pc = new RTCPeerConnection();
    }
    st.pc = pc;
    st.pendingIce = [];
    const callId = st.call.id;
    const attempt = st.attempt;
    let ownStream = null;   // the remote tracks, when the peer names no stream
    let brokenSince = 0;    // when this connection went "disconnected"

    if (st.localStream) {
      for (const t of st.localStream.getTracks()) pc.addTrack(t, st.localStream);
    }
    if (st.call.role === 'offerer') {
      // Receive both kinds even when we have no camera or microphone.
      const kinds = st.localStream ? st.localStream.getTracks().map((t) => t.kind) : [];
      for (const kind of ['audio', 'video']) {
        if (!kinds.includes(kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
      }
    }

    pc.onicecandidate = (ev) => {
      if (pc !== st.pc || !ev.candidate || !ev.candidate.candidate) return;
      const c = ev.candidate;
      const ice = { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex == null ? 0 : c.sdpMLineIndex };
      if (typeof c.sdpMid === 'string') ice.sdpMid = c.sdpMid;
      send({ type: 'signal', call: callId, attempt, ice });
    };
    pc.ontrack = (ev) => {
      if (pc !== st.pc) return;
      const v = ui.remoteVideo;
      let stream = ev.streams && ev.streams[0];
      if (!stream) {
        if (!ownStream) ownStream = new MediaStream();
        ownStream.addTrack(ev.track);
        stream = ownStream;
      }
      if (v.srcObject !== stream) {
        v.srcObject = stream;
        hideStillOnFrame();
      }
      playRemote();
    };
    pc.ondatachannel = (ev) => {
      if (pc !== st.pc) return;
      if (ev.channel.label === 'chat') setupChannel(ev.channel);
      else if (ev.channel.label === 'ctl' && hasCtl()) setupCtl(ev.channel);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== st.pc) return;
      const s = pc.connectionState;
      log('pc ' + s);
      setPeerState(s);
      clearTimeout(disconnectTimer);
      disconnectTimer = null;
      if (s === 'connected') {
        brokenSince = 0;
        if (st.call) {
          st.call.everConnected = true;
          st.call.connectedAt = Date.now();
        }
        clearTimeout(connectTimer);
        connectTimer = null;
        const back = !!st.reconnect;
        endReconnect();
        setState('connected');
        if (back) {
          st.reconnects++;
          log('reconnected (attempt ' + attempt + ')');
          showStatus('Reconnected.');
          // A peer that sends no video now: its old picture goes after all.
          const gen = stillGen;
          setTimeout(() => { if (gen === stillGen) hideStill(); }, 5000);
        } else {
          showStatus('');
        }
      } else if (s === 'failed') {
        // ICE tried every pair of the first connection: there is no path.
        if (st.call && !st.call.everConnected && !st.reconnect) {
          log('ice failed before the call ever connected');
          noPath(true);
          return;
        }
        pathBroken('failed', brokenSince || Date.now());
      } else if (s === 'disconnected') {
        if (!brokenSince) brokenSince = Date.now();
        if (st.state === 'connected') showStatus('The connection to your partner is interrupted…');
        // The path to the server may be gone too (a new network): find out
        // now, so that the restart can reach the partner.
        checkServer('the call is interrupted');
        disconnectTimer = setTimeout(() => {
          disconnectTimer = null;
          if (pc === st.pc && pc.connectionState === 'disconnected') pathBroken('disconnected', brokenSince);
        }, DISCONNECT_GRACE_MS);
        checkPeerAway();
      }
    };
    setPeerState(pc.connectionState);
  }

  /* While a call reconnects, the last picture of the broken connection
   * stays: the remote tracks end with their peer connection and the <video>
   * would go black, so the picture is kept in a canvas over it until the new
   * connection's first frame is shown. */
  let stillGen = 0;

  function captureStill() {
    const v = ui.remoteVideo;
    const c = ui.remoteStill;
    if (!c.hidden) return;   // the picture from before an earlier attempt is up
    if (v.readyState < 2 || !v.videoWidth || !v.videoHeight) return;
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    try {
      c.getContext('2d').drawImage(v, 0, 0, c.width, c.height);
    } catch (e) {
      return;
    }
    stillGen++;
    c.hidden = false;
  }

  function hideStill() {
    stillGen++;
    ui.remoteStill.hidden = true;
  }

  // The still goes when the <video> shows a frame of its new stream.
  function hideStillOnFrame() {
    if (ui.remoteStill.hidden) return;
    const v = ui.remoteVideo;
    const gen = stillGen;
    const done = () => { if (gen === stillGen) hideStill(); };
    if (v.requestVideoFrameCallback) {
      v.requestVideoFrameCallback(done);
    } else {
      v.addEventListener('playing', done, { once: true });
    }
  }

  /* ------------------------------------------------------- reconnecting */

  let disconnectTimer = null;

  /* An old connection (and its channel) to close soon, see RETIRE_MS. */
  let retired = null;

  function closeRetired() {
    const r = retired;
    if (!r) return;
    retired = null;
    clearTimeout(r.timer);
    closePeer(r.pc, r.channel);
  }

  function closePeer(pc, channel) {
    if (channel) {
      try { channel.close(); } catch (e) { /* ignore */ }
    }
    if (pc) {
      try { pc.close(); } catch (e) { /* ignore */ }
    }
  }

  /* Throws the call's peer connection (and its data channel) away and builds
   * the one for `attempt`, with the same local stream and role; the call and
   * the remote picture stay. ownRestart: the old connection is closed a
   * little later (RETIRE_MS). Returns the offerer's offer when inChain. */
  function rebuild(attempt, inChain, ownRestart) {
    const id = st.call.id;
    st.attempt = attempt;
    // What we still had to send for older attempts is of no use to the peer.
    dropPending((m) => m.type === 'signal' && m.call === id && (m.attempt || 0) < attempt);
    clearTimeout(disconnectTimer);
    disconnectTimer = null;
    captureStill();
    const oldChannel = st.channel;
    const oldPc = st.pc;
    st.ctl = null;   // closes with its peer connection
    st.channel = null;
    st.pc = null;
    closeRetired();
    if (ownRestart && oldPc) {
      // Its events are ignored from now on (it is no longer st.pc).
      retired = { pc: oldPc, channel: oldChannel, timer: setTimeout(closeRetired, RETIRE_MS) };
    } else {
      closePeer(oldPc, oldChannel);
    }
    ui.chatInput.disabled = true;
    ui.send.disabled = true;
    log('attempt ' + attempt + ' as ' + st.call.role);
    createPeer();
    if (st.call.role === 'offerer') return startOffer(inChain);
    return null;
  }

  function beginReconnect(since) {
    if (st.reconnect) return;
    const r = { since, restarts: 0, lastRestart: 0, retryTimer: null, giveUpTimer: null };
    st.reconnect = r;
    // From now on the reconnection's deadline is the call's.
    clearTimeout(connectTimer);
    connectTimer = null;
    r.giveUpTimer = setTimeout(giveUp, Math.max(0, since + st.reconnectTimeout - Date.now()));
    setState('reconnecting');
    showStatus('The connection to ' + peerName(st.call.peer) + ' was interrupted. Reconnecting…', 'progress');
  }

  function endReconnect() {
    const r = st.reconnect;
    if (!r) return;
    clearTimeout(r.retryTimer);
    clearTimeout(r.giveUpTimer);
    st.reconnect = null;
  }

  // A new attempt that does not connect in time is followed by another.
  function armRetry() {
    const r = st.reconnect;
    if (!r) return;
    clearTimeout(r.retryTimer);
    r.retryTimer = setTimeout(() => {
      r.retryTimer = null;
      if (st.reconnect === r) restartCall('no connection after ' + ATTEMPT_WAIT_MS / 1000 + ' s', false);
    }, ATTEMPT_WAIT_MS);
  }

  function pathBroken(reason, since) {
    log('path broken: ' + reason);
    if (checkPeerAway()) return;
    restartCall(reason, false, since);
  }

  /* Media stopped while the peer's socket is closed (`peer_away`): after
   * PEER_AWAY_MS of that the peer is gone (crashed, killed), not behind a
   * broken path, and the call ends. Returns true if it ended. */
  let peerAwayTimer = null;
  function checkPeerAway() {
    clearTimeout(peerAwayTimer);
    peerAwayTimer = null;
    if (!st.call || !st.peerAwaySince) return false;
    const pc = st.pc;
    const stopped = !!st.reconnect || (pc && (pc.connectionState === 'disconnected' || pc.connectionState === 'failed'));
    if (!stopped) return false;
    const left = st.peerAwaySince + PEER_AWAY_MS - Date.now();
    if (left > 0) {
      peerAwayTimer = setTimeout(checkPeerAway, left);
      return false;
    }
    log('peer away and no media: ending the call');
    send({ type: 'leave', call: st.call.id });
    endNotRestored(true);
    return true;
  }

  /* Our side sees the path broken: tell the peer (`restart` with the next
   * attempt) and build the new connection. Restarts are spaced by
   * RESTART_GAPS_MS unless forced. */
  function restartCall(reason, force, since) {
    if (!st.call || !st.pc) return false;
    // The path to the server may have broken with the call's.
    checkServer('the call is reconnecting');
    const fresh = !st.reconnect;
    beginReconnect(since || Date.now());
    const r = st.reconnect;
    const now = Date.now();
    if (!force && !fresh && r.restarts > 0) {
      const gap = RESTART_GAPS_MS[Math.min(r.restarts - 1, RESTART_GAPS_MS.length - 1)];
      if (now < r.lastRestart + gap) {
        clearTimeout(r.retryTimer);
        r.retryTimer = setTimeout(() => {
          r.retryTimer = null;
          if (st.reconnect === r) restartCall(reason, true);
        }, r.lastRestart + gap - now);
        return true;
      }
    }
    if (st.attempt >= MAX_ATTEMPT) {
      giveUp();
      return false;
    }
    const attempt = st.attempt + 1;
    log('restart (' + reason + '): attempt ' + attempt);
    r.restarts++;
    r.lastRestart = now;
    rebuild(attempt, false, true);
    // Queued after rebuild() dropped the older attempts' signals, and
    // before the offer (which rebuild() queued on the signal chain).
    send({ type: 'signal', call: st.call.id, restart: true, attempt });
    armRetry();
    return true;
  }

  function giveUp() {
    if (!st.call) return;
    log('reconnect: giving up after ' + st.reconnectTimeout / 1000 + ' s');
    send({ type: 'leave', call: st.call.id });
    endNotRestored();
  }

  // The end of a call whose connection could not be restored (we gave up,
  // or the peer did and left; peerGone: the peer's app went away).
  function endNotRestored(peerGone) {
    const call = st.call;
    const name = peerName(call.peer);
    endCall();
    setState('idle');
    localError(peerGone ? 'peer-lost' : 'reconnect', 'The connection to ' + name + ' could not be restored' +
      (peerGone ? ': they are no longer connected. ' : '. ') +
      (call.kind === 'invite'
        ? 'Send them a new invite, or press Start to meet someone new.'
        : 'Press Start to meet someone new.'));
  }

  async function onSignal(msg) {
    if (!st.pc || !st.call || msg.call !== st.call.id) return;
    const what = msg.restart ? 'restart' : msg.sdp ? 'sdp ' + msg.sdp.type : 'ice';
    const attempt = Number.isInteger(msg.attempt) ? msg.attempt : 0;
    if (attempt < st.attempt) {
      log('dropped ' + what + ' of attempt ' + attempt + ' (now ' + st.attempt + ')');
      return;
    }
    if (attempt > st.attempt) {
      // The peer restarts (or already negotiates a newer attempt): follow it
      // without a restart of our own.
      log('peer ' + what + ' for attempt ' + attempt);
      beginReconnect(Date.now());
      await rebuild(attempt, true);
      armRetry();
    }
    if (msg.restart) return;
    closeRetired();   // the peer is at this attempt: it had our restart
    const pc = st.pc;
    try {
      await applySignal(pc, msg, attempt);
    } catch (e) {
      // A connection replaced meanwhile (closed under our feet) is no error.
      if (pc !== st.pc) {
        log('signal for a replaced connection: ' + e);
        return;
      }
      throw e;
    }
  }

  async function applySignal(pc, msg, attempt) {
    if (msg.sdp) {
      await pc.setRemoteDescription({ type: msg.sdp.type, sdp: msg.sdp.sdp });
      if (pc !== st.pc) return;
      const early = st.pendingIce.splice(0);
      for (const c of early) await addIce(pc, c);
      if (msg.sdp.type === 'offer') {
        const answer = await pc.createAnswer();
        if (pc !== st.pc) return;
        await pc.setLocalDescription(answer);
        if (pc !== st.pc) return;
        send({ type: 'signal', call: msg.call, attempt, sdp: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      }
    } else if (msg.ice) {
      const c = { candidate: msg.ice.candidate, sdpMLineIndex: msg.ice.sdpMLineIndex };
      if (typeof msg.ice.sdpMid === 'string') c.sdpMid = msg.ice.sdpMid;
      if (!pc.remoteDescription) {
        st.pendingIce.push(c);
      } else {
        await addIce(pc, c);
      }
    }
  }

  async function addIce(pc, c) {
    try {
      await pc.addIceCandidate(c);
    } catch (e) {
      log('addIceCandidate: ' + e);   // one bad candidate is not fatal
    }
  }

  function setupChannel(ch) {
    st.channel = ch;
    ch.onopen = () => {
      if (ch !== st.channel) return;
      ui.chatInput.disabled = false;
      ui.send.disabled = false;
    };
    ch.onclose = () => {
      if (ch !== st.channel) return;
      ui.chatInput.disabled = true;
      ui.send.disabled = true;
    };
    ch.onmessage = (ev) => {
      if (ch !== st.channel || typeof ev.data !== 'string') return;
      const text = ev.data.slice(0, MAX_CHAT);
      st.messages.push(text);
      hideTyping();
      addChatLine('them', text);
    };
  }

  function dropPending(pred) {
    for (const q of [outbox, sendQueue]) {
      for (let i = q.length - 1; i >= 0; i--) if (pred(q[i])) q.splice(i, 1);
    }
  }

  function teardown() {
    if (st.call) {
      const id = st.call.id;
      dropPending((m) => m.type === 'signal' && m.call === id);
    }
    closeRetired();
    closePeer(st.pc, st.channel);
    st.channel = null;
    st.ctl = null;
    st.pc = null;
    st.pendingIce = [];
    st.peerMedia = null;
    st.peerId = null;
    hideTyping();
    closeReportForm();
    st.sigChain = Promise.resolve();
    st.call = null;
    clearTimeout(connectTimer);
    connectTimer = null;
    st.quality = null;
    frameGaps.length = 0;
    lastFrameAt = 0;
    endReconnect();
    clearTimeout(disconnectTimer);
    disconnectTimer = null;
    clearTimeout(peerAwayTimer);
    peerAwayTimer = null;
    st.peerAwaySince = 0;
    ui.remoteVideo.srcObject = null;
    hideStill();
    ui.unmute.hidden = true;
    ui.chatInput.disabled = true;
    ui.send.disabled = true;
    setPeerState(null);
  }

  function endCall() {
    if (!st.call) return;
    addChatLine('sys', 'The call ended.');
    teardown();
  }

  function onPeerLeft(msg) {
    st.lastPeerLeft = msg;
    const reason = msg.reason;
    if (st.call && st.call.id === msg.call) {
      const kind = st.call.kind;
      const name = peerName(st.call.peer);
      const Name = name.charAt(0).toUpperCase() + name.slice(1);
      if (st.reconnect && reason !== 'next') {
        // The peer gave up reconnecting (or its session ended meanwhile).
        endNotRestored();
        return;
      }
      if (reason === 'hangup' && !st.call.everConnected) {
        // The peer gave up a call that never connected (vchatd: reason
        // `network`; a web client: its connecting timeout), or left early:
        // `leave` carries no reason, the message says both.
        noPath(false);
        return;
      }
      endCall();
      if (reason === 'next' && kind === 'random' && st.queueOpts) {
        showStatus(Name + ' moved on. Looking for someone new…');
        setState('searching');
        send(withId(Object.assign({ type: 'queue' }, st.queueOpts)));
        return;
      }
      setState('idle');
      showStatus({
        hangup: Name + ' left the call.',
        next: Name + ' moved on to someone else.',
        lost: 'The connection to ' + name + ' was lost.',
        timeout: 'The call timed out.',
        rejected: 'The call was declined.',
      }[reason] || 'The call ended.');
    } else if (st.ringing && st.ringing === msg.call) {
      st.ringing = null;
      setState('idle');
      showStatus({
        rejected: 'Your call was declined.',
        timeout: 'Nobody answered.',
        hangup: 'They are no longer available.',
        lost: 'They are no longer available.',
      }[reason] || 'The call ended.', reason === 'rejected' ? 'error' : 'info');
    } else if (st.incoming && st.incoming.call === msg.call) {
      const name = peerName(st.incoming.peer, 'someone');
      hideIncoming();
      // Also when our accept crossed their leaving.
      if (st.state === 'incoming' || (st.state === 'connecting' && !st.call)) setState('idle');
      showStatus('You missed a call from ' + name + '.');
    }
  }

  function onInvite(msg) {
    st.invite = { code: msg.code, link: msg.link, web_link: msg.web_link, expires: msg.expires };
    ui.inviteLink.value = msg.web_link || msg.link || msg.code;
    ui.inviteExpires.textContent = typeof msg.expires === 'number'
      ? 'at ' + new Date(msg.expires * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : 'soon';
    ui.inviteBox.hidden = false;
    ui.inviteEmpty.hidden = true;
    ui.copy.textContent = 'Copy';
    showStatus('Invite created. Send the link; you will be asked to accept when they join.');
  }

  function clearInvite() {
    st.invite = null;
    ui.inviteBox.hidden = true;
    ui.inviteEmpty.hidden = false;
    ui.inviteLink.value = '';
  }

  function onIncoming(msg) {
    st.incoming = { call: msg.call, peer: msg.peer || {}, code: msg.code };
    if (st.invite && st.invite.code === msg.code) clearInvite();   // invites are single-use
    const name = peerName(st.incoming.peer, 'Someone');
    ui.incomingName.textContent = name;
    ui.incomingCard.hidden = false;
    if (st.state === 'idle') setState('incoming');
    showStatus('');
    render();
    // A sound, the tab's title, and words for screen readers.
    ringStart(name.charAt(0).toUpperCase() + name.slice(1));
    // Accept takes the focus, unless the person is typing somewhere.
    const focused = document.activeElement;
    if (!focused || !/^(INPUT|TEXTAREA|SELECT)$/.test(focused.tagName)) ui.accept.focus();
  }

  function hideIncoming() {
    st.incoming = null;
    ui.incomingCard.hidden = true;
    ringStop();
    render();
  }

  // What may not be shown in a name (docs/protocol.md, "Text shown to
  // people"): controls, bidirectional formatting, line separators. The
  // server refuses them; from a server that does not, they become U+FFFD.
  const NOT_SHOWN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

  function plainText(s) {
    return String(s).replace(NOT_SHOWN, '\ufffd');
  }

  function peerName(peer, fallback) {
    if (peer && typeof peer.name === 'string' && peer.name.trim()) return plainText(peer.name.trim());
    return fallback || 'your partner';
  }

  /* --------------------------------------------------------------- actions */

  function parseInterests(value) {
    const list = Array.isArray(value) ? value : String(value || '').split(',');
    const seen = new Set();
    const out = [];
    for (const raw of list) {
      const tag = String(raw).trim();
      if (!tag || seen.has(tag.toLowerCase())) continue;
      seen.add(tag.toLowerCase());
      out.push(tag);
    }
    return out;
  }

  async function start(opts) {
    if (st.state !== 'idle') return false;
    opts = opts || {};
    const interests = parseInterests(opts.interests !== undefined ? opts.interests : ui.interests.value);
    const language = String(opts.language !== undefined ? opts.language : ui.language.value || '').trim();
    if (interests.length > MAX_INTERESTS) {
      localError('interests', 'Please give at most ' + MAX_INTERESTS + ' interests.');
      return false;
    }
    const long = interests.find((t) => utf8len(t) > MAX_INTEREST_BYTES);
    if (long) {
      localError('interests', 'The interest "' + long + '" is too long (at most ' + MAX_INTEREST_BYTES + ' characters).');
      return false;
    }
    savePrefs();
    const q = {};
    if (interests.length) q.interests = interests;
    if (language) q.language = language;
    st.queueOpts = q;
    st.offerNext = null;
    setState('searching');
    showStatus('');
    await allowCamera();
    if (st.state !== 'searching') return false;   // stopped meanwhile
    const why = cameraMissing();
    if (why) {
      // No watching without being seen: not queued (invites still work).
      setState('idle');
      localError('camera-required', why);
      return false;
    }
    send(withId(Object.assign({ type: 'queue' }, q)));
    return true;
  }

  /* Why a random call cannot start under "Only with my camera on", or ''. */
  function cameraMissing() {
    if (!st.requireCamera) return '';
    const s = st.localStream;
    const tracks = s ? s.getVideoTracks().filter((t) => t.readyState === 'live') : [];
    const after = ' Random chat needs it: the people you meet see you too. You can still invite a friend or join an invite without a camera.';
    if (!tracks.length) {
      return st.cameraState === 'denied' && st.cameraBlocked
        ? 'Your camera is blocked, so you were not put in the queue. Allow it in the browser (the camera icon in the address bar), then press Start again.' + after
        : 'No camera was found, so you were not put in the queue. Connect a camera (or close the program that uses it), then press Start again.' + after;
    }
    if (!st.cameraOn) return 'Your camera is off, so you were not put in the queue. Press "Camera on", then Start.' + after;
    return '';
  }

  function next() {
    if (!st.call && st.offerNext && st.state === 'idle') {
      // After a call that never connected: meet someone else.
      const o = st.offerNext;
      st.offerNext = null;
      start({ interests: o.interests || [], language: o.language || '' });
      return true;
    }
    if (!st.call || st.call.kind !== 'random') return false;
    const id = st.call.id;
    send({ type: 'next', call: id });
    endCall();
    setState('searching');
    showStatus('Looking for someone new…');
    return true;
  }

  function stop() {
    st.pendingJoin = null;
    st.offerNext = null;
    ui.joinCard.hidden = true;
    render();
    if (st.call) {
      send({ type: 'leave', call: st.call.id });
      endCall();
    } else if (st.state === 'searching') {
      send({ type: 'leave' });
    } else if (st.ringing) {
      send({ type: 'leave', call: st.ringing });
      st.ringing = null;
    }
    if (st.incoming) reject();
    setState('idle');
    showStatus('');
    return true;
  }

  function createInvite(opts) {
    const msg = withId({ type: 'invite_create' });
    if (opts && Number.isInteger(opts.ttl)) msg.ttl = opts.ttl;
    const answer = waitFor(['invite'], 'invite_create', 0, msg.id);
    send(msg);
    return answer.then((m) => m.web_link);
  }

  function codeFrom(input) {
    const s = String(input || '').trim();
    const m = s.match(/\/join\/([A-Za-z0-9-]+)/);
    return m ? m[1] : s;
  }

  async function join(input, opts) {
    const code = codeFrom(input);
    if (!code) {
      localError('invite', 'Please enter an invite code or link.');
      return false;
    }
    if (st.call || st.ringing || st.state === 'joining') {
      localError('invite', 'Finish the current call first.');
      return false;
    }
    if (st.state === 'searching') send({ type: 'leave' });
    setState('joining');
    showStatus('Joining…');
    if (!(opts && opts.now)) await allowCamera();
    if (st.state !== 'joining') return false;   // stopped meanwhile
    send(withId({ type: 'invite_join', code }));
    return true;
  }

  async function accept() {
    if (!st.incoming) return false;
    const call = st.incoming.call;
    if (st.call) {
      send({ type: 'leave', call: st.call.id });
      endCall();
    } else if (st.state === 'searching') {
      send({ type: 'leave' });
    }
    ui.incomingCard.hidden = true;
    ringStop();
    setState('connecting');
    render();
    await allowCamera();
    if (!st.incoming || st.incoming.call !== call) return false;
    send({ type: 'accept', call });
    return true;
  }

  function reject() {
    if (!st.incoming) return false;
    send({ type: 'reject', call: st.incoming.call });
    hideIncoming();
    if (st.state === 'incoming') setState('idle');
    return true;
  }

  function sendChat(text) {
    text = String(text || '').trim().slice(0, MAX_CHAT);
    const ch = st.channel;
    if (!text || !ch || ch.readyState !== 'open') return false;
    ch.send(text);
    lastTypingSent = 0;   // typing after this message is news again
    addChatLine('me', text);
    return true;
  }

  /* ----------------------------------------------------------------- media */

  let cameraPromise = null;

  function allowCamera() {
    if (st.localStream) return Promise.resolve(st.localStream);
    if (cameraPromise) return cameraPromise;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      st.cameraState = 'denied';
      localError('camera', window.isSecureContext
        ? 'This browser cannot use a camera.'
        : 'The camera only works over HTTPS. Open this page with https://.');
      render();
      return Promise.resolve(null);
    }
    st.cameraState = 'asking';
    render();
    const video = { width: { ideal: 1280 }, height: { ideal: 720 } };
    const saved = savedCamera();
    const tries = [
      { audio: true, video },
      { video: true },
      { audio: true },
    ];
    // The camera chosen last time first; when it is gone, any other.
    if (saved) tries.unshift({ audio: true, video: Object.assign({ deviceId: { exact: saved } }, video) });
    cameraPromise = (async () => {
      let lastErr = null;
      for (const c of tries) {
        try {
          const stream = await navigator.mediaDevices.getUserMedia(c);
          st.localStream = stream;
          st.cameraState = 'allowed';
          applyTrackState();
          ui.localVideo.srcObject = stream;
          ui.localVideo.play().catch(() => {});
          if (!stream.getVideoTracks().length) showStatus('No camera found: the other side will only hear you.');
          render();
          listCameras();
          return stream;
        } catch (e) {
          lastErr = e;
          if (e.name === 'NotAllowedError' || e.name === 'SecurityError') break;
        }
      }
      st.cameraState = 'denied';
      st.cameraBlocked = !!lastErr && (lastErr.name === 'NotAllowedError' || lastErr.name === 'SecurityError');
      localError('camera', lastErr && lastErr.name === 'NotAllowedError'
        ? 'Camera and microphone are blocked. You can still see and hear others; allow them in the browser to be seen.'
        : 'No camera or microphone could be opened (' + (lastErr ? lastErr.name : 'unknown') + ').');
      render();
      return null;
    })().finally(() => { cameraPromise = null; });
    return cameraPromise;
  }

  function playRemote() {
    const v = ui.remoteVideo;
    v.play().catch((e) => {
      if (e.name !== 'NotAllowedError') return;   // e.g. interrupted by a new track
      // Autoplay with sound needs a click on this page first: play muted.
      v.muted = true;
      ui.unmute.hidden = false;
      v.play().catch(() => {});
    });
  }

  /* -------------------------------------------------------- camera choice */

  function savedCamera() {
    try { return localStorage.getItem('vchat.camera') || null; } catch (e) { return null; }
  }

  function currentCamera() {
    const t = st.localStream && st.localStream.getVideoTracks()[0];
    return t && t.getSettings ? t.getSettings().deviceId || null : null;
  }

  /* The cameras, with their names once the camera was allowed; the choice
   * shows when there are two or more. */
  async function listCameras() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return [];
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch (e) {
      log('enumerateDevices: ' + e);
    }
    st.cameras = devices.filter((d) => d.kind === 'videoinput' && d.deviceId)
      .map((d, i) => ({ id: d.deviceId, label: plainText(d.label || 'Camera ' + (i + 1)) }));
    const sel = ui.cameraSelect;
    sel.textContent = '';
    for (const c of st.cameras) {
      const o = document.createElement('option');
      o.value = c.id;
      o.textContent = c.label;
      sel.appendChild(o);
    }
    const cur = currentCamera();
    if (cur && st.cameras.some((c) => c.id === cur)) sel.value = cur;
    render();
    return st.cameras;
  }

  /* Another camera: its track replaces ours in the call's video sender
   * (RTCRtpSender.replaceTrack, no new offer) and in the preview; the
   * choice is remembered in localStorage. */
  let cameraChain = Promise.resolve();
  function switchCamera(id) {
    // One switch at a time (arrow keys in the list fire one change each).
    const p = cameraChain.then(() => openCamera(id));
    cameraChain = p.catch(() => {});
    return p;
  }

  async function openCamera(id) {
    try { localStorage.setItem('vchat.camera', id); } catch (e) { /* ignore */ }
    const stream = st.localStream;
    if (!stream) return false;
    const old = stream.getVideoTracks()[0] || null;
    if (old && currentCamera() === id) return true;
    const want = { video: { deviceId: { exact: id }, width: { ideal: 1280 }, height: { ideal: 720 } } };
    let fresh = null;
    try {
      fresh = await navigator.mediaDevices.getUserMedia(want);
    } catch (e) {
      // Phones often open one camera at a time: let the old one go first.
      if (old && (e.name === 'NotReadableError' || e.name === 'AbortError')) {
        old.stop();
        try {
          fresh = await navigator.mediaDevices.getUserMedia(want);
        } catch (e2) {
          e = e2;
        }
      }
      if (!fresh) {
        localError('camera', 'Could not open that camera (' + e.name + ').');
        if (old && old.readyState === 'ended') {
          // Take the old one back.
          try {
            const back = await navigator.mediaDevices.getUserMedia({ video: { deviceId: { exact: currentCameraOf(old) } } });
            return replaceVideoTrack(old, back.getVideoTracks()[0]);
          } catch (e3) { /* nothing left */ }
        }
        listCameras();
        return false;
      }
    }
    const track = fresh.getVideoTracks()[0];
    const ok = await replaceVideoTrack(old, track);
    log('camera switched to ' + (track.label || id) + (ok ? '' : ' (not in the call)'));
    st.cameraSwitches++;
    listCameras();
    return ok;
  }

  function currentCameraOf(track) {
    return track && track.getSettings ? track.getSettings().deviceId : undefined;
  }

  async function replaceVideoTrack(old, track) {
    const stream = st.localStream;
    track.enabled = st.cameraOn;
    let ok = true;
    const pc = st.pc;
    if (pc) {
      const senders = pc.getSenders().filter((x) => (x.track && x.track.kind === 'video') || (old && x.track === old));
      if (!senders.length) ok = false;   // a call set up without a camera needs a new offer
      for (const sender of senders) {
        try {
          await sender.replaceTrack(track);
        } catch (e) {
          ok = false;
          log('replaceTrack: ' + e);
        }
      }
    }
    if (old) {
      stream.removeTrack(old);
      old.stop();
    }
    stream.addTrack(track);
    ui.localVideo.srcObject = stream;
    ui.localVideo.play().catch(() => {});
    return ok;
  }

  /* ------------------------------------------------- connection quality */

  /* One word for the call, by the rule vchatd uses for its Call `Quality`
   * (dbus/io.github.vchat.VChat1.Call.xml, daemon/vchatd-quality.h):
   * poor: loss > 10 %, or RTT > 1000 ms, or fewer than 8 pictures a second,
   *       or a freeze of 1 s or more in the last 10 s, or a target under
   *       100 kbit/s;
   * good: loss < 2 %, RTT < 300 ms, at least 20 pictures a second, no freeze
   *       (a gap of more than 500 ms between pictures) in the last 10 s, a
   *       target of at least 250 kbit/s;
   * fair: anything else. Poor is checked first. fps < 0: the peer sends no
   * video (not counted); targetKbps 0: no estimate (not counted). */
  function qualityOf(q) {
    const fps = q.fps == null ? -1 : q.fps;
    const target = q.targetKbps || 0;
    const freeze = q.freezeMs || 0;
    if (q.lossPct > 10 || q.rttMs > 1000 || (fps >= 0 && fps < 8) || freeze >= 1000 ||
        (target > 0 && target < 100)) return 'poor';
    if (q.lossPct < 2 && q.rttMs < 300 && (fps < 0 || fps >= 20) && freeze === 0 &&
        (target === 0 || target >= 250)) return 'good';
    return 'fair';
  }

  // Pictures shown of the remote video (requestVideoFrameCallback), for
  // freezes: the gaps of more than 500 ms in the last 10 s.
  const frameGaps = [];   // [{ at, gap }]
  let lastFrameAt = 0;
  let frameWatchOn = false;
  function watchFrames() {
    const v = ui.remoteVideo;
    if (frameWatchOn || !v.requestVideoFrameCallback) return;
    frameWatchOn = true;
    const tick = () => {
      const now = performance.now();
      if (lastFrameAt && now - lastFrameAt > 500) frameGaps.push({ at: now, gap: now - lastFrameAt });
      lastFrameAt = now;
      v.requestVideoFrameCallback(tick);
    };
    v.requestVideoFrameCallback(tick);
  }

  function remoteSendsVideo(pc) {
    const sdp = pc.remoteDescription && pc.remoteDescription.sdp;
    if (!sdp) return false;
    return sdp.split(/\r?\nm=/).slice(1).some((m) => m.startsWith('video') && !/^m=video 0 /.test('m=' + m) &&
      !/\r?\na=(recvonly|inactive)/.test(m));
  }

  const qualitySamples = [];   // [{ t, received, lost, frames }]
  async function measureQuality() {
    const pc = st.pc;
    if (!pc || !st.call || st.state !== 'connected' || pc.connectionState !== 'connected') {
      qualitySamples.length = 0;
      if (!st.call || st.state !== 'connected') st.quality = null;
      renderQuality();
      return;
    }
    let report;
    try {
      report = await pc.getStats();
    } catch (e) {
      return;
    }
    if (pc !== st.pc) return;
    let received = 0, lost = 0, frames = 0, videoIn = false, pairId = null;
    let rtt = null, sendLoss = 0, target = 0;
    const pairs = {};
    report.forEach((r) => {
      if (r.type === 'inbound-rtp') {
        received += r.packetsReceived || 0;
        lost += Math.max(0, r.packetsLost || 0);
        if (r.kind === 'video') {
          videoIn = true;
          frames += r.framesDecoded || 0;
        }
      } else if (r.type === 'remote-inbound-rtp') {
        if (typeof r.fractionLost === 'number') sendLoss = Math.max(sendLoss, r.fractionLost * 100);
        if (rtt == null && typeof r.roundTripTime === 'number') rtt = r.roundTripTime * 1000;
      } else if (r.type === 'transport' && r.selectedCandidatePairId) {
        pairId = r.selectedCandidatePairId;
      } else if (r.type === 'candidate-pair') {
        pairs[r.id] = r;
      }
    });
    let pair = pairId ? pairs[pairId] : null;
    if (!pair) pair = Object.values(pairs).find((p) => p.nominated && p.state === 'succeeded') || null;
    if (pair && typeof pair.currentRoundTripTime === 'number') rtt = pair.currentRoundTripTime * 1000;
    if (pair && typeof pair.availableOutgoingBitrate === 'number') target = pair.availableOutgoingBitrate / 1000;
    const now = performance.now();
    qualitySamples.push({ t: now, received, lost, frames });
    while (qualitySamples.length > 2 && now - qualitySamples[1].t >= QUALITY_WINDOW_MS) qualitySamples.shift();
    const first = qualitySamples[0];
    if (qualitySamples.length < 2 || now - first.t < 900) return;   // not known yet
    const dt = (now - first.t) / 1000;
    const dRecv = received - first.received;
    const dLost = lost - first.lost;
    const recvLoss = dRecv + dLost > 0 ? 100 * dLost / (dRecv + dLost) : 0;
    // The picture rate counts only when the peer sends video: its
    // description offers to send some, and (a web peer or vchatd tells us)
    // its camera is not off.
    const peerSendsVideo = remoteSendsVideo(pc) && !(st.peerMedia && st.peerMedia.camera === false);
    if (peerSendsVideo && !videoIn) {
      // No picture yet: not known for the first seconds, then 0 a second.
      if (!st.call.connectedAt || Date.now() - st.call.connectedAt < 5000) return;
    }
    const fps = peerSendsVideo ? (frames - first.frames) / dt : -1;
    while (frameGaps.length && now - frameGaps[0].at > 10000) frameGaps.shift();
    const freezeMs = peerSendsVideo && document.visibilityState === 'visible'
      ? frameGaps.reduce((m, g) => Math.max(m, g.gap), 0) : 0;
    const q = {
      rttMs: rtt == null ? 0 : Math.round(rtt),
      lossPct: Math.round(Math.max(recvLoss, sendLoss) * 10) / 10,
      fps: fps < 0 ? -1 : Math.round(fps * 10) / 10,
      freezeMs: Math.round(freezeMs),
      targetKbps: Math.round(target),
    };
    q.word = qualityOf(q);
    st.quality = q;
    renderQuality();
  }
  setInterval(measureQuality, QUALITY_MS);

  function renderQuality() {
    const b = ui.qualityBadge;
    if (st.state === 'reconnecting' && st.call) {
      b.hidden = false;
      b.dataset.state = 'reconnecting';
      ui.quality.textContent = 'Reconnecting\u2026';
      ui.qualityDetail.textContent = '';
      b.title = 'The connection to your partner broke; a new one is being made.';
      return;
    }
    const q = st.call && st.state === 'connected' ? st.quality : null;
    if (!q) {
      b.hidden = !(st.call && st.state === 'connected');
      b.dataset.state = 'new';
      ui.quality.textContent = 'measuring\u2026';
      ui.qualityDetail.textContent = '';
      return;
    }
    b.hidden = false;
    b.dataset.state = q.word;
    ui.quality.textContent = q.word;
    const parts = [q.rttMs + ' ms', q.lossPct + ' % loss'];
    if (q.fps >= 0) parts.push(Math.round(q.fps) + ' fps');
    ui.qualityDetail.textContent = parts.join(' \u00b7 ');
    b.title = 'Call quality: round trip ' + q.rttMs + ' ms, ' + q.lossPct + ' % of packets lost' +
      (q.fps >= 0 ? ', ' + q.fps + ' pictures a second received' : '') +
      (q.freezeMs ? ', longest freeze ' + q.freezeMs + ' ms' : '') +
      (q.targetKbps ? ', ' + q.targetKbps + ' kbit/s available' : '') + '.';
  }

  /* ------------------------------------------------- incoming invite call */

  // WebAudio, generated (no sound file). A context made before any click on
  // the page stays suspended (autoplay rules): the first click or key makes
  // (or resumes) it, so that a call arriving later can be heard.
  let audioCtx = null;
  let chimeTap = null;
  function audio() {
    if (!audioCtx) {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) return null;
      try {
        audioCtx = new AC();
      } catch (e) {
        return null;
      }
      chimeTap = audioCtx.createAnalyser();
      chimeTap.fftSize = 512;
    }
    if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
    return audioCtx;
  }
  const unlockAudio = () => { audio(); };
  document.addEventListener('pointerdown', unlockAudio, true);
  document.addEventListener('keydown', unlockAudio, true);

  /* Two short notes (660 Hz, then 880 Hz, 0.45 s in all). The peak level
   * that reached the output is kept in st.chime (tests read it). */
  function chime() {
    const ctx = audio();
    st.chime.state = ctx ? ctx.state : 'none';
    if (!ctx) return false;
    const t0 = ctx.currentTime + 0.03;
    const out = ctx.createGain();
    out.gain.value = 0.25;
    out.connect(ctx.destination);
    out.connect(chimeTap);
    [[660, 0], [880, 0.22]].forEach(([freq, at]) => {
      const osc = ctx.createOscillator();
      const env = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      env.gain.setValueAtTime(0, t0 + at);
      env.gain.linearRampToValueAtTime(1, t0 + at + 0.02);
      env.gain.exponentialRampToValueAtTime(0.001, t0 + at + 0.22);
      osc.connect(env);
      env.connect(out);
      osc.start(t0 + at);
      osc.stop(t0 + at + 0.24);
    });
    st.chime.count++;
    const buf = new Float32Array(chimeTap.fftSize);
    const until = performance.now() + 700;
    const probe = setInterval(() => {
      chimeTap.getFloatTimeDomainData(buf);
      for (const x of buf) st.chime.peak = Math.max(st.chime.peak, Math.abs(x));
      st.chime.state = ctx.state;
      if (performance.now() > until) clearInterval(probe);
    }, 20);
    return true;
  }

  let ringTimer = null;
  let titleBefore = null;
  function ringStart(name) {
    ringStop();
    titleBefore = document.title;
    document.title = '\u260e ' + name + ' is calling \u2014 vchat';
    // Emptied first, so that the same words are announced again.
    ui.announce.textContent = '';
    setTimeout(() => {
      if (st.incoming) ui.announce.textContent = name + ' joined your invite and is calling. Accept or Decline.';
    }, 50);
    let rings = 0;
    const ring = () => {
      if (!st.incoming || rings++ >= RING_MAX) return;
      chime();
      ringTimer = setTimeout(ring, RING_REPEAT_MS);
    };
    ring();
  }

  function ringStop() {
    clearTimeout(ringTimer);
    ringTimer = null;
    if (titleBefore !== null) {
      document.title = titleBefore;
      titleBefore = null;
    }
    ui.announce.textContent = '';
  }

  /* -------------------------------------------------------------------- UI */

  function setState(s) {
    if (s === 'idle' && st.incoming) s = 'incoming';   // a call still rings us
    if (st.state === s) return;
    log('state ' + st.state + ' -> ' + s);
    st.state = s;
    render();
  }

  function setSignaling(s) {
    st.signaling = s;
    ui.signalState.textContent = s;
    ui.signalBadge.dataset.state = s;
    render();
  }

  function setPeerState(s) {
    ui.peerState.textContent = s || 'none';
    ui.peerBadge.dataset.state = s || 'none';
  }

  let statusTimer = null;
  function showStatus(text, kind) {
    clearTimeout(statusTimer);
    ui.status.textContent = text || '';
    ui.status.hidden = !text;
    ui.status.className = 'status' + (kind === 'error' ? ' error' : '');
    // 'progress' stays until it is replaced, like an error.
    if (text && kind !== 'error' && kind !== 'progress') {
      statusTimer = setTimeout(() => { ui.status.hidden = true; }, 12000);
    }
  }

  function render() {
    const s = st.state;
    const inCall = s === 'connecting' || s === 'connected' || s === 'reconnecting';
    const online = st.signaling === 'online';
    // The socket is gone and a new one is on its way (not: the first
    // connection of the page, or a server that refused us for good).
    const lost = !online && !leaving && (reconnectTimer !== null || (ws !== null && st.everOnline));
    ui.start.disabled = s !== 'idle' || !online;
    const nextOffered = !st.call && s === 'idle' && !!st.offerNext;
    ui.next.disabled = !((st.call && st.call.kind === 'random') || nextOffered) || !online;
    ui.stop.disabled = s === 'idle';
    ui.inviteBtn.disabled = !online;
    ui.offline.hidden = !lost;
    // Why Start and Create invite do nothing now, next to them.
    let why = '';
    if (!online) {
      why = lost ? 'Start and Create invite work again once the server is back; the page keeps trying.'
        : st.signaling === 'connecting' || st.signaling === 'reconnecting' ? 'Connecting to the server\u2026'
          : 'Start and Create invite need the connection to the server (see the message below).';
    }
    ui.why.textContent = why;
    ui.why.hidden = !why;
    for (const b of [ui.start, ui.inviteBtn]) {
      if (why && b.disabled) {
        b.title = why;
        b.setAttribute('aria-describedby', 'controls-why');
      } else {
        b.removeAttribute('title');
        b.removeAttribute('aria-describedby');
      }
    }
    ui.cameraPick.hidden = st.cameras.length < 2;
    ui.cameraSelect.disabled = !st.localStream;
    ui.requireCamera.checked = st.requireCamera;
    const canReport = !!st.call && inCall && online;
    ui.reportBtn.disabled = !canReport;
    ui.blockBtn.disabled = !(st.call && inCall);
    if (!canReport) closeReportForm();
    ui.mute.textContent = st.muted ? 'Unmute' : 'Mute';
    ui.mute.setAttribute('aria-pressed', String(st.muted));
    ui.video.textContent = st.cameraOn ? 'Camera off' : 'Camera on';
    ui.video.setAttribute('aria-pressed', String(!st.cameraOn));
    ui.localWrap.classList.toggle('camera-off', !st.cameraOn);

    const texts = {
      idle: st.cameraState === 'allowed'
        ? 'Press Start to meet someone, or invite a friend.'
        : 'Allow your camera, then press Start to meet someone.',
      searching: 'Looking for someone' + (st.queueOpts && st.queueOpts.interests
        ? ' who likes ' + st.queueOpts.interests.join(', ') : '') + '…',
      joining: 'Joining the call…',
      ringing: 'Calling… waiting for them to answer.',
      incoming: '',
      connecting: 'Connecting…',
      connected: '',
      reconnecting: 'Reconnecting…',
    };
    const lostText = lost && !inCall;   // a call's media goes on without the server
    ui.overlayText.textContent = lostText ? 'Connection to the server lost \u2014 reconnecting\u2026' : texts[s] || '';
    ui.spinner.hidden = lostText ||
      !(s === 'searching' || s === 'joining' || s === 'ringing' || s === 'connecting' || s === 'reconnecting');
    // Over the last picture of the broken connection, which stays.
    ui.overlay.classList.toggle('dim', s === 'reconnecting');
    // A prompt (incoming call, invite link) takes the place of the text.
    ui.overlay.hidden = s === 'connected' || !ui.incomingCard.hidden || !ui.joinCard.hidden;

    if (st.call && inCall) {
      const p = st.call.peer;
      let info = peerName(p, st.call.kind !== 'invite' ? 'Stranger' : st.call.inviter ? 'Your guest' : 'Your host');
      if (p.client && /^vchatd\//.test(p.client)) info += ' · desktop';
      if (st.call.commonInterests.length) info += ' · ' + st.call.commonInterests.join(', ');
      ui.peerInfo.textContent = info;
      ui.peerInfo.hidden = false;
    } else {
      ui.peerInfo.hidden = true;
    }
    renderPeerMedia();
    renderQuality();

    ui.cameraBtn.hidden = st.cameraState === 'allowed';
    ui.cameraBtn.disabled = st.cameraState === 'asking';
    ui.cameraBtn.textContent = st.cameraState === 'asking' ? 'Waiting…'
      : st.cameraState === 'denied' ? 'Try camera again' : 'Allow camera';
    ui.localWrap.dataset.camera = st.cameraState;
  }

  function addChatLine(who, text) {
    const li = document.createElement('li');
    li.className = who;
    li.textContent = text;
    ui.messages.appendChild(li);
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function savePrefs() {
    try {
      localStorage.setItem('vchat.interests', ui.interests.value);
      localStorage.setItem('vchat.language', ui.language.value);
    } catch (e) { /* storage may be disabled */ }
  }

  function loadPrefs() {
    try {
      const i = localStorage.getItem('vchat.interests');
      const l = localStorage.getItem('vchat.language');
      const n = localStorage.getItem('vchat.name');
      if (n) ui.name.value = cleanName(n);
      st.requireCamera = localStorage.getItem('vchat.requireCamera') !== '0';
      if (i) ui.interests.value = i;
      if (l) ui.language.value = l;
    } catch (e) { /* storage may be disabled */ }
  }

  /* ----------------------------------------------- control channel (web) */

  function isWebPeer() {
    const c = st.call && st.call.peer && st.call.peer.client;
    return typeof c === 'string' && c.startsWith('web/');
  }

  // vchatd (0.1 and later) offers a "ctl" channel too, and reads state and
  // typing from it (it sends no hello: Block uses its name).
  function hasCtl() {
    const c = st.call && st.call.peer && st.call.peer.client;
    return isWebPeer() || (typeof c === 'string' && c.startsWith('vchatd/'));
  }

  function setupCtl(ch) {
    st.ctl = ch;
    ch.onopen = () => {
      if (ch !== st.ctl) return;
      const hello = { type: 'hello', id: st.myId };
      sendCtl(hello);
      sendCtl(mediaState());
    };
    ch.onmessage = (ev) => {
      if (ch !== st.ctl || typeof ev.data !== 'string' || ev.data.length > 1000) return;
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (!m || typeof m !== 'object') return;
      onCtl(m);
    };
  }

  function sendCtl(msg) {
    const ch = st.ctl;
    if (!ch || ch.readyState !== 'open' || !hasCtl()) return false;
    try {
      ch.send(JSON.stringify(msg));
    } catch (e) {
      return false;
    }
    return true;
  }

  function mediaState() {
    return { type: 'state', muted: st.muted, camera: st.cameraOn };
  }

  function onCtl(m) {
    switch (m.type) {
      case 'hello':
        if (typeof m.id === 'string' && m.id.length <= 64) {
          st.peerId = m.id;
          if (st.call && st.call.kind === 'random' && st.blocked.includes('id:' + m.id)) skipBlocked();
        }
        break;
      case 'state':
        st.peerMedia = { muted: m.muted === true, camera: m.camera !== false };
        renderPeerMedia();
        break;
      case 'typing':
        showTyping();
        break;
      default:
        break;   // later versions may add messages
    }
  }

  function strangerName() {
    const name = peerName(st.call && st.call.peer, st.call && st.call.kind === 'invite' ? 'Your partner' : 'Stranger');
    return name.charAt(0).toUpperCase() + name.slice(1);
  }

  function renderPeerMedia() {
    const pm = st.call ? st.peerMedia : null;
    const name = pm ? strangerName() : '';
    ui.peerMuted.hidden = !(pm && pm.muted);
    ui.peerMuted.textContent = pm && pm.muted ? name + ' muted' : '';
    ui.peerCamera.hidden = !(pm && !pm.camera);
    ui.peerCamera.textContent = pm && !pm.camera ? name + ': camera off' : '';
  }

  let typingTimer = null;
  function showTyping() {
    if (!st.call) return;
    st.peerTyping = true;
    ui.typing.textContent = strangerName() + ' is typing\u2026';
    ui.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typingTimer = null;
    st.peerTyping = false;
    ui.typing.hidden = true;
  }

  let lastTypingSent = 0;
  function typed() {
    if (!ui.chatInput.value.trim()) return;
    const now = Date.now();
    if (now - lastTypingSent < TYPING_SEND_MS) return;
    if (sendCtl({ type: 'typing' })) lastTypingSent = now;
  }

  /* ------------------------------------------------- microphone and camera */

  function applyTrackState() {
    const s = st.localStream;
    if (!s) return;
    for (const t of s.getAudioTracks()) t.enabled = !st.muted;
    for (const t of s.getVideoTracks()) t.enabled = st.cameraOn;
  }

  function setMuted(on) {
    st.muted = !!on;
    applyTrackState();
    sendCtl(mediaState());
    render();
    return st.muted;
  }

  function setCamera(on) {
    st.cameraOn = !!on;
    applyTrackState();
    sendCtl(mediaState());
    render();
    return st.cameraOn;
  }

  /* ------------------------------------------------------- report, block */

  function report(reason) {
    if (!st.call) return false;
    reason = String(reason || '').trim().slice(0, 200) || 'other';
    send({ type: 'report', call: st.call.id, reason });
    closeReportForm();
    if (st.call.kind === 'random') next();
    else stop();
    return true;
  }

  function loadBlocked() {
    try {
      const list = JSON.parse(localStorage.getItem('vchat.blocked') || '[]');
      if (Array.isArray(list)) st.blocked = list.filter((x) => typeof x === 'string').slice(-500);
    } catch (e) { /* storage may be disabled */ }
    try {
      st.myId = localStorage.getItem('vchat.id');
    } catch (e) { /* ignore */ }
    if (!st.myId || !/^[0-9a-f]{32}$/.test(st.myId)) {
      const b = new Uint8Array(16);
      crypto.getRandomValues(b);
      st.myId = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
      try { localStorage.setItem('vchat.id', st.myId); } catch (e) { /* ignore */ }
    }
  }

  /* The server has no block list: the page remembers a web peer by the id
   * it sends on the control channel (kept in its localStorage), any other
   * peer by its display name, and skips them when it meets them again. */
  function block() {
    if (!st.call) return false;
    const name = typeof st.call.peer.name === 'string' ? st.call.peer.name.trim() : '';
    const key = st.peerId ? 'id:' + st.peerId : name ? 'name:' + name : null;
    if (key && !st.blocked.includes(key)) {
      st.blocked.push(key);
      if (st.blocked.length > 500) st.blocked.splice(0, st.blocked.length - 500);
      try { localStorage.setItem('vchat.blocked', JSON.stringify(st.blocked)); } catch (e) { /* ignore */ }
    }
    const who = strangerName();
    if (st.call.kind === 'random') next();
    else stop();
    showStatus(key ? who + ' is blocked: you will not be matched with them again.'
      : who + ' was skipped (they cannot be told apart from others to block them).');
    return !!key;
  }

  function skipBlocked() {
    log('a blocked peer: skipping');
    next();
    showStatus('Skipped someone you blocked. Looking for someone new…');
  }

  function openReportForm() {
    if (ui.reportBtn.disabled) return;
    ui.reportForm.hidden = false;
    ui.reportBtn.setAttribute('aria-expanded', 'true');
    ui.reportReason.focus();
  }

  function closeReportForm() {
    if (ui.reportForm.hidden) return;
    ui.reportForm.hidden = true;
    ui.reportBtn.setAttribute('aria-expanded', 'false');
  }

  /* ------------------------------------------------------------------ name */

  /* Plain text (docs/protocol.md refuses control and bidi characters) of at
   * most MAX_NAME_BYTES bytes. */
  function cleanName(v) {
    let name = String(v || '').replace(NOT_SHOWN, '').replace(/\s+/g, ' ').trim();
    while (name && utf8len(name) > MAX_NAME_BYTES) name = Array.from(name).slice(0, -1).join('').trim();
    return name;
  }

  let helloName = null;   // the name our session said in hello
  function nameChanged() {
    const name = cleanName(ui.name.value);
    try { localStorage.setItem('vchat.name', name); } catch (e) { /* ignore */ }
    if (name === helloName) return;
    // A session's name is fixed at hello: a new session carries the new one
    // when nothing (a call, the queue, an invite) depends on the current.
    if (st.state === 'idle' && !st.invite && !st.incoming && ws && welcomed) {
      const old = ws;
      ws = null;
      welcomed = false;
      st.session = null;
      st.resume = null;
      try { old.close(1000, 'new name'); } catch (e) { /* ignore */ }
      connect();
      showStatus('Your name is now ' + (name ? '"' + name + '"' : 'empty') + '.');
    } else {
      showStatus('Your new name is used from the next time you connect.');
    }
  }

  /* ----------------------------------------------------------- keyboard */

  let escArmed = 0;
  function onKey(ev) {
    if (ev.key !== 'Escape' || ev.defaultPrevented) return;
    if (!ui.reportForm.hidden) {
      closeReportForm();
      ui.reportBtn.focus();
      return;
    }
    if (ui.next.disabled) return;
    const now = Date.now();
    if (escArmed && now - escArmed <= ESC_CONFIRM_MS) {
      escArmed = 0;
      next();
      return;
    }
    escArmed = now;
    showStatus('Press Esc again for next');
    setTimeout(() => {
      if (escArmed === now) {
        escArmed = 0;
        if (ui.status.textContent === 'Press Esc again for next') showStatus('');
      }
    }, ESC_CONFIRM_MS);
  }

  /* ------------------------------------------------------------- join link */

  function joinPending(now) {
    if (!st.pendingJoin) return;
    const code = st.pendingJoin;
    st.pendingJoin = null;
    ui.joinCard.hidden = true;
    render();
    history.replaceState(null, '', '/');   // a reload must not join again
    join(code, { now });
  }

  function setupJoinLink() {
    const m = location.pathname.match(/^\/join\/([^/]+)\/?$/);
    if (!m) return;
    let code;
    try {
      code = decodeURIComponent(m[1]);
    } catch (e) {
      code = m[1];
    }
    st.pendingJoin = code;
    ui.joinCard.hidden = false;
    render();
    allowCamera().then((stream) => {
      if (stream) {
        joinPending(true);
      } else {
        ui.joinHint.textContent = 'Without a camera they will not see you, but you can still join.';
      }
    });
  }

  /* ---------------------------------------------------------------- wiring */

  ui.cameraBtn.addEventListener('click', () => allowCamera());
  ui.start.addEventListener('click', () => start());
  ui.next.addEventListener('click', () => next());
  ui.stop.addEventListener('click', () => stop());
  ui.inviteBtn.addEventListener('click', () => {
    createInvite().catch((e) => { if (!e.code) localError('invite', 'Could not create an invite: ' + e.message); });
  });
  ui.accept.addEventListener('click', () => accept());
  ui.reject.addEventListener('click', () => reject());
  ui.joinBtn.addEventListener('click', () => joinPending(true));
  ui.unmute.addEventListener('click', () => {
    ui.remoteVideo.muted = false;
    ui.remoteVideo.play().catch(() => {});
    ui.unmute.hidden = true;
  });
  ui.copy.addEventListener('click', async () => {
    const text = ui.inviteLink.value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      ui.inviteLink.select();
      document.execCommand('copy');
    }
    ui.copy.textContent = 'Copied';
    setTimeout(() => { ui.copy.textContent = 'Copy'; }, 2000);
  });
  ui.inviteLink.addEventListener('focus', () => ui.inviteLink.select());
  ui.codeForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = ui.codeInput.value;
    ui.codeInput.value = '';
    join(value).then((ok) => { if (!ok && !ui.codeInput.value) ui.codeInput.value = value; });
  });
  ui.chatForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (sendChat(ui.chatInput.value)) ui.chatInput.value = '';
  });
  ui.chatInput.addEventListener('input', typed);
  ui.mute.addEventListener('click', () => setMuted(!st.muted));
  ui.video.addEventListener('click', () => setCamera(!st.cameraOn));
  ui.reportBtn.addEventListener('click', () => {
    if (ui.reportForm.hidden) openReportForm();
    else closeReportForm();
  });
  ui.reportCancel.addEventListener('click', () => { closeReportForm(); ui.reportBtn.focus(); });
  ui.reportForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    report(ui.reportReason.value);
  });
  ui.blockBtn.addEventListener('click', () => block());
  ui.cameraSelect.addEventListener('change', () => switchCamera(ui.cameraSelect.value));
  ui.requireCamera.addEventListener('change', () => {
    st.requireCamera = ui.requireCamera.checked;
    try { localStorage.setItem('vchat.requireCamera', st.requireCamera ? '1' : '0'); } catch (e) { /* ignore */ }
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener('devicechange', () => { if (st.localStream) listCameras(); });
  }
  ui.name.addEventListener('change', nameChanged);
  document.addEventListener('keydown', onKey);
  ui.remoteVideo.addEventListener('playing', () => {
    if (st.state === 'connected') ui.overlay.hidden = true;
  });

  window.addEventListener('pagehide', (ev) => {
    leaving = true;
    if (ws && ws.readyState === WebSocket.OPEN && welcomed) {
      if (st.call) rawSend({ type: 'leave', call: st.call.id });
      else if (st.ringing) rawSend({ type: 'leave', call: st.ringing });
      else if (st.incoming) rawSend({ type: 'reject', call: st.incoming.call });
      else if (st.state === 'searching') rawSend({ type: 'leave' });
    }
    if (ws) {
      try { ws.close(1000, 'bye'); } catch (e) { /* ignore */ }
    }
    if (!ev.persisted) teardown();
  });
  window.addEventListener('pageshow', (ev) => {
    if (!ev.persisted) return;
    // Back from the back/forward cache: the old session is gone.
    leaving = false;
    teardown();
    st.session = null;
    st.resume = null;
    st.ringing = null;
    hideIncoming();
    clearInvite();
    setState('idle');
    connect();
  });

  /* ------------------------------------------------------------ public API */

  // Close the socket like a network failure would (not with 1000), so the
  // client reconnects and resumes its session. For tests.
  function dropConnection() {
    if (!ws) return false;
    ws.close(4100, 'dropped');
    return true;
  }

  // Start a new attempt of the call's connection as if the path broke. For tests.
  function restart() {
    return restartCall('asked for', true);
  }

  const api = {
    allowCamera, start, next, stop, createInvite, join, accept, reject, sendChat, dropConnection, restart,
    setMuted, setCamera, report, block, switchCamera, listCameras, qualityOf,
  };
  const fields = ['state', 'signaling', 'session', 'call', 'pc', 'channel', 'ctl', 'localStream', 'messages',
    'lastError', 'errors', 'invite', 'incoming', 'lastPeerLeft', 'log', 'attempt', 'reconnects',
    'reconnectTimeout', 'muted', 'cameraOn', 'peerMedia', 'peerTyping', 'blocked',
    'cameras', 'cameraSwitches', 'requireCamera', 'quality', 'connectTimeout', 'offerNext', 'chime'];
  for (const f of fields) Object.defineProperty(api, f, { get: () => st[f], enumerable: true });
  Object.defineProperty(api, 'reconnecting', { get: () => !!st.reconnect, enumerable: true });
  Object.defineProperty(api, 'inviteLink', { get: () => (st.invite ? st.invite.web_link : null), enumerable: true });
  window.vchat = api;

  // A shorter reconnection deadline for tests: #reconnect-timeout=SECONDS.
  const reconnectSeconds = Number(hashParam('reconnect-timeout'));
  if (reconnectSeconds > 0 && reconnectSeconds <= 600) st.reconnectTimeout = reconnectSeconds * 1000;
  // And a shorter connecting timeout: #connect-timeout=SECONDS.
  const connectSeconds = Number(hashParam('connect-timeout'));
  if (connectSeconds > 0 && connectSeconds <= 600) st.connectTimeout = connectSeconds * 1000;
  watchFrames();

  loadPrefs();
  loadBlocked();
  render();
  setSignaling('offline');
  setPeerState(null);
  connect();
  setupJoinLink();
})();
