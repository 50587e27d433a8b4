#!/usr/bin/env node
// An SMPP 3.4 server (an SMSC stand-in) for Rabta's tests, built on the server side of the npm
// smpp package (https://www.npmjs.com/package/smpp, pinned in package.json) so that Rabta's
// SMPP client is tested against an implementation nobody here wrote.
//
// Usage:
//   node server.js --port 0 --system-id rabta --password secret \
//     [--host 127.0.0.1] [--refuse-prefix 99] [--throttle-prefix 98] [--fail-prefix 97] \
//     [--throttle] [--receipt-delay-ms 0]
//
// It listens on host:port (port 0 picks a free one), accepts bind_transceiver and
// bind_transmitter (and bind_receiver) with the given system_id and password (anything else
// gets ESME_RBINDFAIL), answers submit_sm with a message_id, enquire_link with
// enquire_link_resp, and unbind with unbind_resp. When a submit_sm asks for a delivery
// receipt (registered_delivery & 0x03 != 0) it sends a deliver_sm back on a transceiver or
// receiver session: esm_class 0x04, the receipt text of SMPP 3.4 Appendix B ("id:… sub:001
// dlvrd:001 submit date:… done date:… stat:DELIVRD err:000 text:…") and the
// receipted_message_id and message_state TLVs (§5.3.2.12, §5.3.2.35).
//
// For tests, a destination starting with --refuse-prefix is refused (ESME_RINVDSTADR), one
// starting with --throttle-prefix is throttled (ESME_RTHROTTLED), --throttle throttles every
// submit_sm, and one starting with --fail-prefix is accepted but its receipt says
// stat:UNDELIV err:001. Prefixes are matched against destination_addr as sent (no "+").
//
// Everything it sees is written to stdout, one JSON object a line:
//   {"event":"listening","port":N}
//   {"event":"bind","command":"bind_transceiver","system_id":"…","ok":true}
//   {"event":"submit_sm","message_id":"…","status":0,"source":"…","destination":"…",
//    "data_coding":8,"esm_class":64,"registered_delivery":1,"udh":{"ref":7,"total":3,"part":1},
//    "hex":"…","text":"…"}
//   {"event":"enquire_link"}   {"event":"unbind"}   {"event":"deliver_sm","message_id":"…","stat":"DELIVRD"}
//   {"event":"deliver_sm_resp","status":0}   (the client's answer to any deliver_sm)
// The password is never written out. SIGTERM or SIGINT closes every session and exits.
//
// Control commands arrive on stdin, one JSON object a line:
//   {"command":"deliver","source":"923001234567","destination":"8282","text":"JOIN Lahore"}
// sends a mobile-originated deliver_sm (esm_class 0, source_addr_ton 1 = international) to
// every session bound as transceiver or receiver: data_coding 0 with the text as GSM octets
// when it is printable ASCII, else 8 with the text in UCS-2 (UTF-16BE).
// A long message from a handset: add "parts": N (and "ref": R) to send the text as N
// deliver_sm with a concatenation UDH (esm_class 0x40; "ref16": true for IEI 0x08), or with
// "sar": true as the SAR TLVs; "order": [2,1,2] sends the parts in that order (a repeat is a
// duplicate). It writes
//   {"event":"mo","sessions":N,"source":"…","parts":P}
// with the number of sessions it went to and the deliver_sm each received.
'use strict';

const smpp = require('smpp');

function parseArgs(argv) {
  const o = {
    host: '127.0.0.1', port: 0, systemId: '', password: '',
    refusePrefix: '', throttlePrefix: '', failPrefix: '', throttle: false, receiptDelayMs: 0,
  };
  const names = {
    '--host': 'host', '--port': 'port', '--system-id': 'systemId', '--password': 'password',
    '--refuse-prefix': 'refusePrefix', '--throttle-prefix': 'throttlePrefix',
    '--fail-prefix': 'failPrefix', '--receipt-delay-ms': 'receiptDelayMs',
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--throttle') { o.throttle = true; continue; }
    const key = names[a];
    if (!key || i + 1 >= argv.length) {
      process.stderr.write(`server.js: unknown or incomplete argument ${JSON.stringify(a)}\n`);
      process.exit(2);
    }
    o[key] = argv[++i];
  }
  o.port = Number(o.port);
  o.receiptDelayMs = Number(o.receiptDelayMs);
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    process.stderr.write('server.js: --port must be 0..65535\n');
    process.exit(2);
  }
  if (!o.systemId) {
    process.stderr.write('server.js: --system-id is required\n');
    process.exit(2);
  }
  return o;
}

const opts = parseArgs(process.argv);

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Keep the raw short_message octets next to the package's decoding of them: the record shows
// both the hex that travelled and the text the package decoded from it.
for (const cmd of ['submit_sm', 'deliver_sm']) {
  const param = smpp.commands[cmd].params.short_message;
  const filter = param.filter;
  param.filter = {
    encode: filter.encode,
    decode: function (value, skipUdh) {
      const out = filter.decode.call(this, value, skipUdh);
      if (Buffer.isBuffer(value) && out && typeof out === 'object') {
        out.raw = value;
      }
      return out;
    },
  };
}

// Message ids are unique across restarts of this process: a per-process prefix and a counter.
const idPrefix = (Date.now() % 1e8).toString(36) + process.pid.toString(36);
let counter = 0;
function nextMessageId() {
  counter++;
  return idPrefix + counter.toString(36);
}

// concat reads the concatenation information element (3GPP TS 23.040 §9.2.3.24.1 and .8): IEI
// 0x00 with an 8-bit reference, 0x08 with a 16-bit one.
function concat(udhList) {
  for (const ie of udhList || []) {
    if (ie[0] === 0x00 && ie[1] === 3 && ie.length >= 5) {
      return { ref: ie[2], total: ie[3], part: ie[4] };
    }
    if (ie[0] === 0x08 && ie[1] === 4 && ie.length >= 6) {
      return { ref: ie.readUInt16BE(2), total: ie[4], part: ie[5] };
    }
  }
  return null;
}

function pad(n) { return String(n).padStart(2, '0'); }
function smppDate(d) {
  return pad(d.getUTCFullYear() % 100) + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) +
    pad(d.getUTCHours()) + pad(d.getUTCMinutes());
}

const MESSAGE_STATE = { DELIVRD: 2, UNDELIV: 5 };

function sendReceipt(session, submit, messageId, submitted, text) {
  const fail = opts.failPrefix !== '' && submit.destination_addr.startsWith(opts.failPrefix);
  const stat = fail ? 'UNDELIV' : 'DELIVRD';
  const now = new Date();
  const body = `id:${messageId} sub:001 dlvrd:${fail ? '000' : '001'} submit date:${smppDate(submitted)} ` +
    `done date:${smppDate(now)} stat:${stat} err:${fail ? '001' : '000'} text:${(text || '').slice(0, 20)}`;
  session.deliver_sm({
    source_addr_ton: submit.dest_addr_ton,
    source_addr_npi: submit.dest_addr_npi,
    source_addr: submit.destination_addr,
    dest_addr_ton: submit.source_addr_ton,
    dest_addr_npi: submit.source_addr_npi,
    destination_addr: submit.source_addr,
    esm_class: 0x04,
    data_coding: 0,
    short_message: Buffer.from(body, 'latin1'),
    receipted_message_id: messageId,
    message_state: MESSAGE_STATE[stat],
  });
  emit({ event: 'deliver_sm', message_id: messageId, stat });
}

const server = smpp.createServer((session) => {
  let bound = null; // the bind command, once accepted

  const onBind = (pdu) => {
    const ok = pdu.system_id === opts.systemId && pdu.password === opts.password;
    emit({ event: 'bind', command: pdu.command, system_id: pdu.system_id, system_type: pdu.system_type, ok });
    if (!ok) {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    bound = pdu.command;
    session.rabtaBound = bound;
    session.send(pdu.response({ system_id: 'rabta-test-smsc' }));
  };
  session.on('bind_transceiver', onBind);
  session.on('bind_transmitter', onBind);
  session.on('bind_receiver', onBind);

  session.on('submit_sm', (pdu) => {
    if (!bound || bound === 'bind_receiver') {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const sm = pdu.short_message || {};
    const raw = sm.raw || (Buffer.isBuffer(sm) ? sm : Buffer.alloc(0));
    const record = {
      event: 'submit_sm',
      message_id: '',
      status: 0,
      service_type: pdu.service_type,
      source: pdu.source_addr,
      source_ton: pdu.source_addr_ton,
      source_npi: pdu.source_addr_npi,
      destination: pdu.destination_addr,
      destination_ton: pdu.dest_addr_ton,
      destination_npi: pdu.dest_addr_npi,
      data_coding: pdu.data_coding,
      esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery,
      udh: concat(sm.udh),
      hex: raw.toString('hex'),
      text: typeof sm.message === 'string' ? sm.message : '',
    };
    const dest = pdu.destination_addr || '';
    let status = 0;
    if (opts.refusePrefix !== '' && dest.startsWith(opts.refusePrefix)) {
      status = smpp.ESME_RINVDSTADR;
    } else if (opts.throttle || (opts.throttlePrefix !== '' && dest.startsWith(opts.throttlePrefix))) {
      status = smpp.ESME_RTHROTTLED;
    }
    if (status !== 0) {
      record.status = status;
      emit(record);
      session.send(pdu.response({ command_status: status }));
      return;
    }
    const messageId = nextMessageId();
    record.message_id = messageId;
    emit(record);
    const submitted = new Date();
    session.send(pdu.response({ message_id: messageId }), () => {
      if ((pdu.registered_delivery & 0x03) === 0 || bound === 'bind_transmitter') {
        return;
      }
      const send = () => { if (!session.socket.destroyed) sendReceipt(session, pdu, messageId, submitted, record.text); };
      if (opts.receiptDelayMs > 0) setTimeout(send, opts.receiptDelayMs); else send();
    });
  });

  session.on('enquire_link', (pdu) => {
    emit({ event: 'enquire_link' });
    session.send(pdu.response());
  });

  session.on('unbind', (pdu) => {
    emit({ event: 'unbind' });
    session.send(pdu.response(), () => session.close());
  });

  session.on('deliver_sm_resp', (pdu) => emit({ event: 'deliver_sm_resp', status: pdu.command_status }));
  session.on('unknown', (pdu) => {
    session.send(pdu.response());
  });
  session.on('error', (err) => {
    process.stderr.write(`server.js: session error: ${err.message}\n`);
  });
});

server.on('error', (err) => {
  process.stderr.write(`server.js: ${err.message}\n`);
  process.exit(1);
});

server.listen(opts.port, opts.host, () => {
  emit({ event: 'listening', port: server.address().port });
});

function deliverMO(cmd) {
  const text = String(cmd.text || '');
  const ascii = /^[\x20-\x7e]*$/.test(text);
  let buf;
  if (ascii) {
    buf = Buffer.from(text, 'latin1');
  } else {
    const le = Buffer.from(text, 'utf16le');
    buf = Buffer.alloc(le.length);
    for (let i = 0; i + 1 < le.length; i += 2) { buf[i] = le[i + 1]; buf[i + 1] = le[i]; }
  }
  const pdus = moParts(cmd, buf, ascii ? 1 : 2).map((p) => Object.assign({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: String(cmd.source || ''),
    dest_addr_ton: 0, dest_addr_npi: 0, destination_addr: String(cmd.destination || ''),
    esm_class: 0, data_coding: ascii ? 0 : 8,
  }, p));
  let n = 0;
  for (const session of server.sessions) {
    if (session.rabtaBound !== 'bind_transceiver' && session.rabtaBound !== 'bind_receiver') continue;
    if (session.socket.destroyed) continue;
    for (const p of pdus) session.deliver_sm(Object.assign({}, p));
    n++;
  }
  emit({ event: 'mo', sessions: n, source: String(cmd.source || ''), parts: pdus.length });
}

// moParts cuts the encoded text buf into cmd.parts parts (1 when absent) of whole
// unit-octet characters, each a deliver_sm's fields: with "sar": true the SAR TLVs
// (sar_msg_ref_num = cmd.ref, sar_total_segments, sar_segment_seqnum), else a UDH
// concatenation element (IEI 0x00 with an 8-bit reference, or 0x08 with a 16-bit one when
// "ref16": true) and esm_class UDHI 0x40. "order" lists the part numbers to send, in the
// order to send them (repeats allowed: duplicates); by default 1..parts.
function moParts(cmd, buf, unit) {
  const total = Number(cmd.parts || 1);
  if (total <= 1) return [{ short_message: buf }];
  const ref = Number(cmd.ref || 0);
  const units = buf.length / unit;
  const chunks = [];
  for (let i = 0; i < total; i++) {
    chunks.push(buf.subarray(Math.floor(units * i / total) * unit, Math.floor(units * (i + 1) / total) * unit));
  }
  const order = Array.isArray(cmd.order) ? cmd.order : chunks.map((_, i) => i + 1);
  return order.map((seq) => {
    const chunk = chunks[seq - 1] || Buffer.alloc(0);
    if (cmd.sar) {
      return { short_message: chunk, sar_msg_ref_num: ref & 0xffff, sar_total_segments: total, sar_segment_seqnum: seq };
    }
    const udh = cmd.ref16 ?
      Buffer.from([6, 0x08, 4, (ref >> 8) & 0xff, ref & 0xff, total, seq]) :
      Buffer.from([5, 0x00, 3, ref & 0xff, total, seq]);
    return { esm_class: 0x40, short_message: Buffer.concat([udh, chunk]) };
  });
}

require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch (e) {
    process.stderr.write(`server.js: control: not JSON: ${e.message}\n`);
    return;
  }
  if (cmd.command === 'deliver') deliverMO(cmd);
  else process.stderr.write(`server.js: control: unknown command ${JSON.stringify(cmd.command)}\n`);
});

function shutdown() {
  for (const s of server.sessions.slice()) {
    s.destroy();
  }
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
