// English text normalisation for word error rate, after openai/whisper's
// EnglishTextNormalizer. Reference and hypothesis both pass through it, so a
// rule only has to be applied the same way to both: it is there to stop
// spelling, punctuation and formatting choices from counting as recognition
// errors, not to produce good prose.

import { spellOutNumberSymbols, standardizeNumbers } from "./english-numbers.ts";

// Hesitations that transcribers keep or drop at will.
const FILLERS = /\b(?:hmm+|hm|mm+|mhm|uh|uhm|um+|ah|er|erm)\b/g;

// Order matters: whole-word forms before the general suffix rules.
const CONTRACTIONS: Array<[RegExp, string]> = [
  [/\bwon't\b/g, "will not"],
  [/\bcan't\b/g, "can not"],
  [/\bcannot\b/g, "can not"],
  [/\blet's\b/g, "let us"],
  [/\bain't\b/g, "aint"],
  [/\by'all\b/g, "you all"],
  [/\bma'am\b/g, "madam"],
  [/\bwanna\b/g, "want to"],
  [/\bgotta\b/g, "got to"],
  [/\bgonna\b/g, "going to"],
  [/\bi'ma\b/g, "i am going to"],
  [/\bimma\b/g, "i am going to"],
  [/\bwoulda\b/g, "would have"],
  [/\bcoulda\b/g, "could have"],
  [/\bshoulda\b/g, "should have"],
  // "'d" and "'s" mean "had"/"has" before a past participle; only the common ones are worth it
  [/'d been\b/g, " had been"],
  [/'s been\b/g, " has been"],
  [/'d gone\b/g, " had gone"],
  [/'s gone\b/g, " has gone"],
  [/'d done\b/g, " had done"],
  [/'s got\b/g, " has got"],
  // "'s" is also a possessive; reading it as "is" everywhere is wrong but consistent
  [/n't\b/g, " not"],
  [/'re\b/g, " are"],
  [/'s\b/g, " is"],
  // elsewhere "'d" is usually an elided "e" ("tatter'd"), so only after pronouns
  [/\b(i|you|he|she|it|we|they|that|who|there|what)'d\b/g, "$1 would"],
  [/'ll\b/g, " will"],
  [/'ve\b/g, " have"],
  [/'m\b/g, " am"],
];

// Titles are read out in full; the trailing period goes with the other punctuation.
const TITLES: Record<string, string> = {
  mr: "mister",
  mrs: "missus",
  dr: "doctor",
  st: "saint",
  prof: "professor",
  capt: "captain",
  gov: "governor",
  gen: "general",
  sen: "senator",
  rep: "representative",
  pres: "president",
  rev: "reverend",
  hon: "honorable",
  asst: "assistant",
  lt: "lieutenant",
  col: "colonel",
  jr: "junior",
  sr: "senior",
  esq: "esquire",
};
// Not after an apostrophe: "feed'st" is a verb, not "feed saint".
const TITLE_PATTERN = new RegExp(`(?<!')\\b(?:${Object.keys(TITLES).join("|")})\\b`, "g");

// Letters that NFKD does not take apart.
const LETTERS: Record<string, string> = { ß: "ss", æ: "ae", œ: "oe", ø: "o", đ: "d", ł: "l", þ: "th", ð: "d", ı: "i" };

const SPELLINGS = buildSpellings();

export function normalizeEnglish(text: string): string {
  let s = text.toLowerCase().replace(/[\u2018\u2019\u02bc`\u00b4]/g, "'");
  s = s.replace(/[<[{][^>\]}]*[>\]}]/g, " ").replace(/\([^)]*\)/g, " ");
  s = s.replace(FILLERS, " ");
  s = spellOutNumberSymbols(s); // first, so "1960's" is a plural before "'s" becomes "is"
  for (const [pattern, replacement] of CONTRACTIONS) s = s.replace(pattern, replacement);
  s = s.replace(TITLE_PATTERN, (title) => TITLES[title] ?? title);
  s = s.replace(/&/g, " and ");
  s = stripSymbols(s);
  s = standardizeNumbers(s);
  return s
    .split(" ")
    .filter((word) => word !== "")
    .map((word) => SPELLINGS.get(word) ?? word)
    .join(" ");
}

/** Drops accents and punctuation; keeps a period only as a decimal point. */
function stripSymbols(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .replace(/[ßæœøđłþðı]/g, (c) => LETTERS[c] ?? c)
    .replace(/(?<=\p{L})'(?=\p{L})/gu, "") // "o'clock", "rock 'n' roll": the apostrophe is not a word break
    .replace(/(?<!\d)\.|\.(?!\d)/g, " ")
    .replace(/[^\p{L}\p{N}.]+/gu, " ");
}

// British -> American, generated from stems so inflections come along
// ("colour" brings "colours", "coloured", "colourful"). Covers the spellings
// common in audiobook text, not the whole of tysto's list that whisper uses.
function buildSpellings(): Map<string, string> {
  const map = new Map<string, string>();
  const forms = (uk: string, us: string, suffixes: string[]) => {
    for (const suffix of suffixes) map.set(uk + suffix, us + suffix);
  };

  const ourWords =
    "colour favour honour labour neighbour behaviour harbour humour rumour vapour vigour valour splendour armour ardour odour parlour savour flavour endeavour clamour tumour fervour rancour candour saviour demeanour";
  for (const word of ourWords.split(" ")) {
    forms(word, word.replace(/our$/, "or"), [
      "",
      "s",
      "ed",
      "ing",
      "ite",
      "ites",
      "able",
      "ably",
      "ful",
      "less",
      "er",
      "ers",
      "hood",
      "hoods",
      "ly",
      "y",
      "ry",
    ]);
  }

  const iseStems =
    "real organ recogn apolog critic emphas civil character special standard minim maxim summar memor util author sympath econom familiar priorit final legal modern normal optim visual categor mobil colon harmon agon fertil idol scrutin patron public capital central stabil steril symbol neutral material ideal moral scandal tyrann bapt evangel satir monopol natural penal human";
  for (const stem of iseStems.split(" ")) {
    forms(`${stem}is`, `${stem}iz`, ["e", "ed", "es", "ing", "ation", "ations", "er", "ers"]);
  }
  // "analyses" is also the plural of "analysis", so it stays
  for (const stem of ["anal", "paral", "catal"]) forms(`${stem}ys`, `${stem}yz`, ["e", "ed", "ing"]);

  const treWords = "centre theatre metre litre fibre spectre sombre calibre lustre meagre sabre sceptre mitre kilometre centimetre millimetre";
  for (const word of treWords.split(" ")) {
    const us = `${word.slice(0, -2)}er`;
    forms(word, us, ["", "s"]);
    map.set(`${word}d`, `${us}ed`);
  }

  const doubledL =
    "travel cancel counsel label model quarrel level fuel marvel signal dial equal channel chisel funnel grovel jewel kennel panel pedal revel rival shovel shrivel snivel swivel tunnel unravel duel enamel gambol pencil total yodel bevel libel pummel spiral tassel towel cudgel dishevel initial marshal parcel";
  for (const stem of doubledL.split(" ")) forms(`${stem}l`, stem, ["ed", "ing", "er", "ers", "or", "ors", "ous"]);

  for (const word of ["defence", "offence", "pretence", "licence"]) forms(word, word.replace(/ce$/, "se"), ["", "s", "less"]);

  const irregular: Array<[string, string, string[]]> = [
    ["grey", "gray", ["", "s", "er", "est", "ish", "ing", "ness"]],
    ["plough", "plow", ["", "s", "ed", "ing", "man", "men"]],
    ["mould", "mold", ["", "s", "y", "ed", "ing", "er", "ering"]],
    ["smoulder", "smolder", ["", "s", "ed", "ing"]],
    ["catalogue", "catalog", ["", "s"]],
    ["programme", "program", ["", "s"]],
    ["cheque", "check", ["", "s"]],
    ["tyre", "tire", ["", "s"]],
    ["aluminium", "aluminum", [""]],
    ["moustache", "mustache", ["", "s"]],
    ["pyjama", "pajama", ["", "s"]],
    ["sceptic", "skeptic", ["", "s", "al", "ally", "ism"]],
    ["judgement", "judgment", ["", "s"]],
    ["acknowledgement", "acknowledgment", ["", "s"]],
    ["ageing", "aging", [""]],
    ["fulfil", "fulfill", ["", "s", "ment"]],
    ["instalment", "installment", ["", "s"]],
    ["enrol", "enroll", ["", "s", "ment"]],
    ["skilful", "skillful", ["", "ly"]],
    ["wilful", "willful", ["", "ly"]],
    ["woollen", "woolen", ["", "s"]],
    ["jewellery", "jewelry", [""]],
    ["manoeuvre", "maneuver", ["", "s"]],
    ["manoeuvred", "maneuvered", [""]],
    ["mediaeval", "medieval", [""]],
    ["encyclopaedia", "encyclopedia", ["", "s"]],
    ["anaesthetic", "anesthetic", ["", "s"]],
    ["foetus", "fetus", [""]],
    ["diarrhoea", "diarrhea", [""]],
    ["gaol", "jail", ["", "s", "er", "ers", "ed"]],
    ["kerb", "curb", ["", "s"]],
    ["cosy", "cozy", [""]],
    ["practise", "practice", ["", "s"]],
    ["practised", "practiced", [""]],
    ["practising", "practicing", [""]],
    ["waggon", "wagon", ["", "s", "er", "ers"]],
    ["gipsy", "gypsy", [""]],
    ["gipsies", "gypsies", [""]],
    ["despatch", "dispatch", ["", "es", "ed", "ing"]],
    ["artefact", "artifact", ["", "s"]],
    ["annexe", "annex", [""]],
  ];
  for (const [uk, us, suffixes] of irregular) forms(uk, us, suffixes);
  return map;
}
