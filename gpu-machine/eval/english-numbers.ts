// Number handling for the English normaliser, in the spirit of whisper's
// EnglishNumberNormalizer: spoken numbers become digits, so "twenty five",
// "25" and "twenty-five" score as the same word. Currency and percent end up
// as words after the number ("25 dollars", "25 percent") whichever way they
// were written.

const ONES = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const SCALES: Array<[string, number]> = [
  ["hundred", 2],
  ["thousand", 3],
  ["million", 6],
  ["billion", 9],
  ["trillion", 12],
];
const ORDINAL_ONES = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"];
const CURRENCY_UNITS: Record<string, string> = { $: "dollars", "£": "pounds", "€": "euros" };
const SCALE_PATTERN = SCALES.map(([name]) => name).join("|");

type WordClass = "zero" | "ones" | "teens" | "tens" | "scale";
type Form = "cardinal" | "ordinal" | "plural";

interface NumberWord {
  cls: WordClass;
  value: bigint;
  form: Form;
}

const NUMBER_WORDS = buildNumberWords();

function buildNumberWords(): Map<string, NumberWord> {
  const words = new Map<string, NumberWord>();
  const add = (name: string, cls: WordClass, value: number | bigint, form: Form = "cardinal") => words.set(name, { cls, value: BigInt(value), form });
  add("zero", "zero", 0);
  ONES.forEach((name, i) => add(name, "ones", i + 1));
  ORDINAL_ONES.forEach((name, i) => add(name, "ones", i + 1, "ordinal"));
  TEENS.forEach((name, i) => {
    add(name, "teens", i + 10);
    add(name === "twelve" ? "twelfth" : `${name}th`, "teens", i + 10, "ordinal");
  });
  TENS.forEach((name, i) => {
    add(name, "tens", (i + 2) * 10);
    add(name.replace(/y$/, "ieth"), "tens", (i + 2) * 10, "ordinal");
    add(name.replace(/y$/, "ies"), "tens", (i + 2) * 10, "plural");
  });
  for (const [name, zeros] of SCALES) {
    add(name, "scale", 10n ** BigInt(zeros));
    add(`${name}th`, "scale", 10n ** BigInt(zeros), "ordinal");
    add(`${name}s`, "scale", 10n ** BigInt(zeros), "plural");
  }
  return words;
}

const DIGITS = /^\d+(\.\d+)?$/;

/**
 * Rewrites symbols that stand for number words while they are still attached
 * to their numbers: "$25 million" -> "25 million dollars", "5%" -> "5 percent",
 * "1,000" -> "1000". Runs before punctuation is stripped.
 */
export function spellOutNumberSymbols(text: string): string {
  return text
    .replace(/(\d),(?=\d)/g, "$1")
    .replace(/(\d)'s\b/g, "$1s") // "1960's" is a plural, not "1960 is"
    .replace(
      new RegExp(`([$£€])\\s*(\\d+(?:\\.\\d+)?)((?:\\s+(?:${SCALE_PATTERN})\\b)*)`, "g"),
      (_, symbol: string, amount: string, scales: string) => `${amount}${scales} ${CURRENCY_UNITS[symbol] ?? ""} `,
    )
    .replace(/(\d)\s*¢/g, "$1 cents ")
    .replace(/\bper\s+cent\b/g, "percent")
    .replace(/%/g, " percent ");
}

/**
 * Spoken numbers to digits over lowercase, punctuation-free text.
 * Juxtaposed numbers concatenate the way years and digit strings are read:
 * "nineteen eighty four" -> "1984", "one oh one" -> "101".
 */
export function standardizeNumbers(text: string): string {
  // "mp3" -> "mp 3" so the digits can match "mp three"; "21st" and "1960s" stay whole
  const spaced = text.replace(/([a-z])(\d)/g, "$1 $2").replace(/(\d)(?!(?:st|nd|rd|th|s)\b)([a-z])/g, "$1 $2");
  const words = spaced.split(/\s+/).filter((w) => w !== "");
  return tidyNumberWords(wordsToNumbers(words).join(" "));
}

type Last = "none" | WordClass | "digits" | "and" | "point";

/** A number being read word by word: `head` is fixed digits, `group` is still open to arithmetic. */
class SpokenNumber {
  private head = "";
  private group: bigint | null = null;
  last: Last = "none";

  get active(): boolean {
    return this.head !== "" || this.group !== null;
  }

  text(): string {
    return this.head + (this.group === null ? "" : String(this.group));
  }

  /** Whether a word may join by addition ("twenty" + "five") rather than by juxtaposition. */
  canAdd(word: NumberWord): boolean {
    if (this.group === null) return true;
    const afterScale = this.last === "scale" || this.last === "and";
    if (word.cls === "ones") return (afterScale || this.last === "tens") && this.group % 10n === 0n;
    if (word.cls === "teens" || word.cls === "tens") return afterScale && this.group % 100n === 0n;
    return false;
  }

  add(word: NumberWord): void {
    if (word.cls === "scale") {
      this.scale(word.value);
      return;
    }
    if (word.cls === "zero") {
      this.head = `${this.text()}0`;
      this.group = null;
    } else if (this.canAdd(word)) {
      this.group = (this.group ?? 0n) + word.value;
    } else {
      this.head = this.text();
      this.group = word.value;
    }
    this.last = word.cls;
  }

  private scale(multiplier: bigint): void {
    this.last = "scale";
    if (!this.active) {
      this.group = multiplier;
    } else if (this.head === "" && this.group !== null && this.group % 1000n !== 0n) {
      // "two thousand three hundred": the hundred applies to the 3, not the 2003
      const below = this.group % 1000n;
      this.group = this.group - below + below * multiplier;
    } else {
      const shifted = shiftDecimal(this.text(), String(multiplier).length - 1);
      this.head = /^\d+$/.test(shifted) ? "" : shifted;
      this.group = this.head === "" ? BigInt(shifted) : null;
    }
  }

  startDecimal(): void {
    this.head = `${this.text()}.`;
    this.group = null;
    this.last = "point";
  }

  appendDigits(digits: string): void {
    this.head = this.text() + digits;
    this.group = null;
    this.last = "digits";
  }

  take(suffix: Form = "cardinal"): string {
    let out = this.text();
    if (suffix === "plural") out += "s";
    if (suffix === "ordinal") out += /^\d+$/.test(out) ? ordinalSuffix(BigInt(out)) : "th";
    this.head = "";
    this.group = null;
    this.last = "none";
    return out;
  }
}

function wordsToNumbers(words: string[]): string[] {
  const out: string[] = [];
  const num = new SpokenNumber();
  const flush = () => {
    if (num.active) out.push(num.take());
  };
  const startsNumber = (word: string | undefined) => {
    const w = word === undefined ? undefined : NUMBER_WORDS.get(word);
    return w !== undefined && w.cls !== "scale" && w.form !== "plural";
  };

  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    const next = words[i + 1];
    const nextWord = next === undefined ? undefined : NUMBER_WORDS.get(next);

    if (DIGITS.test(word)) {
      if (num.last === "point" && /^\d+$/.test(word)) {
        num.appendDigits(word);
      } else {
        flush();
        num.appendDigits(word);
      }
      continue;
    }

    if (num.active && word === "and" && next === "a" && words[i + 2] === "half" && !num.text().includes(".")) {
      num.appendDigits(".5");
      i += 2;
      continue;
    }
    if (num.active && word === "and" && num.last === "scale" && startsNumber(next)) {
      num.last = "and";
      continue;
    }
    if (
      word === "point" &&
      num.active &&
      num.last !== "point" &&
      !num.text().includes(".") &&
      (startsNumber(next) || next === "oh" || next === "o" || (next !== undefined && /^\d+$/.test(next)))
    ) {
      num.startDecimal();
      continue;
    }
    // "a hundred", "a million": the article is the count
    if (word === "a" && nextWord?.cls === "scale" && nextWord.form === "cardinal") {
      flush();
      num.add({ cls: "ones", value: 1n, form: "cardinal" });
      continue;
    }
    // "oh" is a digit only inside a number: "nineteen oh five", not "oh well"
    if ((word === "oh" || word === "o") && num.active && num.last !== "digits" && (startsNumber(next) || next === "oh" || next === "o")) {
      num.add({ cls: "zero", value: 0n, form: "cardinal" });
      continue;
    }

    const spoken = NUMBER_WORDS.get(word);
    if (spoken === undefined || (spoken.cls === "scale" && spoken.form === "plural" && !num.active)) {
      flush();
      out.push(word);
      continue;
    }
    if (spoken.cls === "scale") {
      num.add(spoken);
    } else {
      // A digit string is complete; "5 six" is two numbers. An ordinal never
      // juxtaposes: "one second" is not "12nd".
      if (num.last === "digits" || (spoken.form === "ordinal" && !num.canAdd(spoken))) flush();
      num.add(spoken);
    }
    if (spoken.form !== "cardinal") out.push(num.take(spoken.form));
  }
  flush();
  return out;
}

/** Moves the decimal point `zeros` places right: ("2.5", 6) -> "2500000". */
function shiftDecimal(value: string, zeros: number): string {
  const [whole = "", fraction = ""] = value.split(".");
  const digits = whole + fraction.padEnd(zeros, "0");
  const point = whole.length + zeros;
  const shifted = point < digits.length ? `${digits.slice(0, point)}.${digits.slice(point)}` : digits;
  return shifted.replace(/^0+(?=\d)/, "");
}

function ordinalSuffix(n: bigint): string {
  const lastTwo = n % 100n;
  if (lastTwo >= 11n && lastTwo <= 13n) return "th";
  return ["th", "st", "nd", "rd"][Number(n % 10n)] ?? "th";
}

/** Agrees currency with its amount after the numbers are digits. */
function tidyNumberWords(text: string): string {
  return (
    text
      // "$5" becomes "5 dollars" and "$1" "1 dollar", so "5 dollar" must agree too
      .replace(/(?<=^| )(\d+(?:\.\d+)?) (dollar|pound|euro|cent)s?(?= |$)/g, (_, n: string, unit: string) => `${n} ${unit}${n === "1" ? "" : "s"}`)
      // "two dollars and fifty cents" is how "$2.50" is read aloud
      .replace(/(?<=^| )(\d+) dollars (?:and )?(\d{1,2}) cents?(?= |$)/g, (_, d: string, c: string) => `${d}.${c.padStart(2, "0")} dollars`)
      .replace(/(?<=^| )0\.(\d\d) dollars(?= |$)/g, (_, c: string) => `${Number(c)} cents`)
      // a lone "one" is usually a pronoun ("the one I saw"); keep it a word either way it was written
      .replace(/(?<=^| )1(s?)(?= |$)/g, "one$1")
  );
}
