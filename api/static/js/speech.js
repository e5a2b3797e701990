// Spoken advice (Web Speech API) at the app's moments: entering the advisory range of an
// intersection, a new band, and "prepare to stop".  Every moment is logged (also when muted or
// when the browser has no speech synthesis), so the page's behaviour can be checked.

import { SPEECH_LANG } from "./i18n.js";
import { roundBand } from "./format.js";

const NEW_BAND_KMH = 5; // a band is "new" when an edge moved this much since it was last spoken

function bandIsNew(band, spoken) {
  if (!band) return false;
  if (!spoken) return true;
  const disjoint = band[0] > spoken[1] || band[1] < spoken[0];
  return (
    disjoint ||
    Math.abs(band[0] - spoken[0]) >= NEW_BAND_KMH ||
    Math.abs(band[1] - spoken[1]) >= NEW_BAND_KMH
  );
}

const ADVISED = new Set(["advice", "proceed", "prepare_to_stop"]);

export class Speaker {
  constructor() {
    this.muted = false;
    this.log = [];
    this.intersection = null; // the intersection whose range the car is in
    this.status = null;
    this.spokenBand = null;
    this.synth = "speechSynthesis" in window ? window.speechSynthesis : null;
  }

  /** Decide whether `response` is a moment to speak; speak it in `lang`. */
  update(response, lang) {
    const iid = response.intersection?.id ?? null;
    if (!ADVISED.has(response.status) || !iid) {
      this.intersection = null;
      this.status = response.status;
      this.spokenBand = null;
      return null;
    }
    const band = roundBand(response.band);
    let moment = null;
    if (iid !== this.intersection) moment = "enter";
    else if (response.status === "prepare_to_stop" && this.status !== "prepare_to_stop") {
      moment = "prepare_to_stop";
    } else if (response.status !== "prepare_to_stop" && bandIsNew(band, this.spokenBand)) {
      moment = "band";
    }
    this.intersection = iid;
    this.status = response.status;
    if (moment === null) return null;
    if (band) this.spokenBand = band;
    this.say(moment, response.message[lang], lang, response.timestamp, iid);
    return moment;
  }

  say(moment, text, lang, at, intersection = null) {
    const entry = {
      moment,
      text,
      lang: SPEECH_LANG[lang],
      at,
      intersection,
      muted: this.muted,
      spoken: false,
    };
    this.log.push(entry);
    if (this.log.length > 200) this.log.shift();
    if (this.muted || !this.synth) return;
    // The newest advice replaces what is still being said: stale speech is wrong speech.
    this.synth.cancel();
    const u = new SpeechSynthesisUtterance(text);
    u.lang = entry.lang;
    const voice = this.synth.getVoices().find((v) => v.lang.replace("_", "-") === entry.lang)
      || this.synth.getVoices().find((v) => v.lang.startsWith(entry.lang.slice(0, 2)));
    if (voice) u.voice = voice;
    u.rate = 1.05;
    this.synth.speak(u);
    entry.spoken = true;
  }

  setMuted(muted) {
    this.muted = muted;
    if (muted && this.synth) this.synth.cancel();
  }

  reset() {
    this.intersection = null;
    this.status = null;
    this.spokenBand = null;
    if (this.synth) this.synth.cancel();
  }
}
