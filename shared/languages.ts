/**
 * Languages Whisper can transcribe, keyed by the code Whisper's tokenizer uses.
 * Whisper mostly uses ISO 639-1, with a few exceptions (`haw`, `yue`, and `jw`
 * for Javanese where ISO says `jv`), so the public API accepts both spellings
 * and reports BCP 47 tags, which is what captions and browsers expect.
 */
export const WHISPER_LANGUAGES = {
  en: "english",
  zh: "chinese",
  de: "german",
  es: "spanish",
  ru: "russian",
  ko: "korean",
  fr: "french",
  ja: "japanese",
  pt: "portuguese",
  tr: "turkish",
  pl: "polish",
  ca: "catalan",
  nl: "dutch",
  ar: "arabic",
  sv: "swedish",
  it: "italian",
  id: "indonesian",
  hi: "hindi",
  fi: "finnish",
  vi: "vietnamese",
  he: "hebrew",
  uk: "ukrainian",
  el: "greek",
  ms: "malay",
  cs: "czech",
  ro: "romanian",
  da: "danish",
  hu: "hungarian",
  ta: "tamil",
  no: "norwegian",
  th: "thai",
  ur: "urdu",
  hr: "croatian",
  bg: "bulgarian",
  lt: "lithuanian",
  la: "latin",
  mi: "maori",
  ml: "malayalam",
  cy: "welsh",
  sk: "slovak",
  te: "telugu",
  fa: "persian",
  lv: "latvian",
  bn: "bengali",
  sr: "serbian",
  az: "azerbaijani",
  sl: "slovenian",
  kn: "kannada",
  et: "estonian",
  mk: "macedonian",
  br: "breton",
  eu: "basque",
  is: "icelandic",
  hy: "armenian",
  ne: "nepali",
  mn: "mongolian",
  bs: "bosnian",
  kk: "kazakh",
  sq: "albanian",
  sw: "swahili",
  gl: "galician",
  mr: "marathi",
  pa: "punjabi",
  si: "sinhala",
  km: "khmer",
  sn: "shona",
  yo: "yoruba",
  so: "somali",
  af: "afrikaans",
  oc: "occitan",
  ka: "georgian",
  be: "belarusian",
  tg: "tajik",
  sd: "sindhi",
  gu: "gujarati",
  am: "amharic",
  yi: "yiddish",
  lo: "lao",
  uz: "uzbek",
  fo: "faroese",
  ht: "haitian creole",
  ps: "pashto",
  tk: "turkmen",
  nn: "nynorsk",
  mt: "maltese",
  sa: "sanskrit",
  lb: "luxembourgish",
  my: "myanmar",
  bo: "tibetan",
  tl: "tagalog",
  mg: "malagasy",
  as: "assamese",
  tt: "tatar",
  haw: "hawaiian",
  ln: "lingala",
  ha: "hausa",
  ba: "bashkir",
  jw: "javanese",
  su: "sundanese",
  yue: "cantonese",
} as const;

export type WhisperLanguage = keyof typeof WHISPER_LANGUAGES;

/** Where the ISO/BCP 47 spelling differs from Whisper's token. */
const BCP47_OVERRIDES: Partial<Record<WhisperLanguage, string>> = { jw: "jv" };
const FROM_ISO: Record<string, WhisperLanguage> = { jv: "jw" };

export function isWhisperLanguage(code: string): code is WhisperLanguage {
  return Object.hasOwn(WHISPER_LANGUAGES, code);
}

/**
 * Accepts `en`, `EN`, `en-US`, `zh-Hant`, `jv` or `jw`; returns Whisper's code,
 * or null when Whisper cannot transcribe that language.
 */
export function toWhisperLanguage(input: string): WhisperLanguage | null {
  const primary = input.trim().toLowerCase().split(/[-_]/)[0] ?? "";
  const code = FROM_ISO[primary] ?? primary;
  return isWhisperLanguage(code) ? code : null;
}

export function toBcp47(code: string): string {
  return isWhisperLanguage(code) ? (BCP47_OVERRIDES[code] ?? code) : code;
}

/** Scripts written without spaces between words; joining their segments adds none. */
const UNSPACED = new Set<string>(["zh", "ja", "th", "lo", "my", "km", "bo", "yue"]);

export function joinsWithoutSpace(code: string): boolean {
  return UNSPACED.has(code);
}
