// Package voice turns each issued CAP message into spoken audio, for people who cannot read a
// warning or have no data plan: IVR and robocalls, mosque and village loudspeakers, community
// radio.
//
// For every <info> of a message (one per language the node speaks) it renders a WAV file —
// 16 kHz, mono, 16-bit PCM (see Rate for why) — of the info's headline followed by its
// instruction, with Debian's espeak-ng (Urdu, English, Chinese, Sindhi; Punjabi in Shahmukhi
// through the Urdu voice; Pashto has no espeak-ng voice) converted and joined by sox. A
// recorded-voice template set (Renderer.Clips) frames or replaces the synthetic voice per
// language.
//
// The audio is rendered when the message is issued, before it is built and signed (Attach,
// called by alert.Service.Attach): rendering takes tens of milliseconds per language
// (BenchmarkRender), so each <info> carries a <resource> with the audio's URI, size and SHA-1
// digest in the signed message itself, and no Update is needed to announce it. A language not
// rendered in time (Budget) or that fails is issued without its resource and rendered when
// first asked for. Files keeps the audio in the data directory; Handler serves it at
// /cap/alerts/{identifier}/audio/{lang}.wav. Rendering is deterministic (sox without dither),
// so processes of one node on the same image that render one message agree byte for byte.
//
// The IVR channel (package channel/ivr) gives the audio's URL to a call gateway for
// subscribers with a voice contact.
package voice
