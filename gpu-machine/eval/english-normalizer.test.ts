import { describe, expect, it } from "vitest";
import { missingShared, readJsonl, sharedPath } from "../../test/support/shared-data.ts";
import { normalizeEnglish } from "./english-normalizer.ts";

const LIBRISPEECH = ["librispeech-test-clean", "librispeech-test-other"];
const shared = missingShared(...LIBRISPEECH.map((set) => `data/speech/${set}/manifest.jsonl`));

/** Each group of spellings must normalise to the one expected string. */
function expectSame(expected: string, ...forms: string[]): void {
  for (const form of forms) expect(normalizeEnglish(form), form).toBe(expected);
}

describe("normalizeEnglish: text", () => {
  it("lowercases, drops punctuation and collapses whitespace", () => {
    expect(normalizeEnglish('  And so, my fellow Americans:  ask NOT!\n(what) "your" country…  ')).toBe("and so my fellow americans ask not your country");
  });

  it("turns hyphens and other joiners into word breaks", () => {
    expect(normalizeEnglish("picture-books; lower-case / all-eating")).toBe("picture books lower case all eating");
    expect(normalizeEnglish("AT&T")).toBe("at and t");
  });

  it("removes bracketed and parenthesised asides", () => {
    expect(normalizeEnglish("[MUSIC] Hello (laughs) there <unk> {noise} friend")).toBe("hello there friend");
  });

  it("removes hesitation fillers but not words that contain them", () => {
    expect(normalizeEnglish("Um, the uh, results, hmm, mhm. Er, ah well, umm")).toBe("the results well");
    expect(normalizeEnglish("umbrella human thumb hmmer uhlan")).toBe("umbrella human thumb hmmer uhlan");
  });

  it("drops diacritics and spells out ligatures", () => {
    expect(normalizeEnglish("Café naïve façade Æsop straße")).toBe("cafe naive facade aesop strasse");
  });

  it("treats typographic and plain apostrophes alike", () => {
    expect(normalizeEnglish("don\u2019t o\u2019clock")).toBe(normalizeEnglish("don't o'clock"));
    expect(normalizeEnglish("o'clock, rock 'n' roll, he said 'yes'")).toBe("oclock rock n roll he said yes");
  });

  it("keeps periods only inside numbers", () => {
    expect(normalizeEnglish("i.e. the end. Version 3.5 of 2.0.")).toBe("i e the end version 3.5 of 2.0");
  });
});

describe("normalizeEnglish: contractions and titles", () => {
  it("expands common contractions", () => {
    expectSame("i will not", "I won't", "I will not");
    expectSame("they can not", "They can't", "they cannot", "they can not");
    expectSame("you are not going to", "You aren't gonna", "you're not going to");
    expectSame("it is what we would have done", "it's what we'd have done", "it is what we would have done");
    expectSame("let us go", "let's go");
  });

  it("reads perfect tenses as has/had", () => {
    expectSame("she has been there he had gone", "she's been there he'd gone");
  });

  it("only reads 'd as would after a pronoun", () => {
    expect(normalizeEnglish("a tatter'd weed")).toBe("a tatterd weed");
  });

  it("spells out titles", () => {
    expectSame(
      "mister and missus smith met doctor jones at saint paul",
      "Mr. and Mrs. Smith met Dr. Jones at St. Paul",
      "mister and missus smith met doctor jones at saint paul",
    );
  });

  it("leaves archaic verb endings that look like abbreviations alone", () => {
    expect(normalizeEnglish("thou feed'st it")).toBe("thou feedst it");
  });
});

describe("normalizeEnglish: numbers", () => {
  it("writes cardinals as digits", () => {
    expectSame("25", "twenty five", "twenty-five", "25");
    expectSame("102", "one hundred and two", "a hundred and two", "one hundred two", "102");
    expectSame("1000", "one thousand", "a thousand", "1,000");
    expectSame("123456", "one hundred twenty three thousand four hundred and fifty six", "123,456");
    expectSame("1200000000", "one billion two hundred million", "1.2 billion", "1,200,000,000");
    expectSame("2500000", "two and a half million", "two point five million", "2.5 million");
  });

  it("reads juxtaposed numbers as years and digit strings", () => {
    expectSame("1984", "nineteen eighty four", "nineteen eighty-four", "1984");
    expectSame("1455", "fourteen fifty-five", "1455");
    expectSame("1905", "nineteen oh five", "nineteen hundred and five", "1905");
    expectSame("2021", "twenty twenty one", "two thousand and twenty one", "2021");
    expectSame("101", "one oh one");
  });

  it("writes decimals with a point", () => {
    expectSame("3.14", "three point one four", "3.14");
    expectSame("0.5", "zero point five", "0.5");
  });

  it("writes ordinals with their suffix", () => {
    expectSame("the 21st century", "the twenty first century", "the twenty-first century", "the 21st century");
    expectSame("the 15th 2nd 3rd 12th", "the fifteenth second third twelfth");
    expectSame("100th", "hundredth", "one hundredth", "100th");
    expectSame("101st", "one hundred and first");
  });

  it("keeps decades together", () => {
    expectSame("the 1960s", "the nineteen sixties", "the 1960s", "the 1960's");
    expectSame("the 60s", "the sixties");
  });

  it("leaves number-like words that are not numbers", () => {
    expect(normalizeEnglish("the one i saw, one by one")).toBe("the one i saw one by one");
    expect(normalizeEnglish("oh well, hundreds of people, the point is")).toBe("oh well hundreds of people the point is");
    expect(normalizeEnglish("wait one second")).toBe("wait one 2nd");
  });

  it("splits digits from letters but keeps ordinal and plural suffixes", () => {
    expectSame("mp 3 covid 19", "MP3 COVID-19", "mp three covid nineteen");
    expect(normalizeEnglish("the 3 s")).toBe("the 3 s");
  });

  it("writes percent as a word", () => {
    expectSame("50 percent", "50%", "fifty percent", "fifty per cent", "50 per cent");
  });

  it("writes currency as an amount followed by its unit", () => {
    expectSame("25 dollars", "$25", "twenty five dollars", "25 dollars");
    expectSame("25000000 dollars", "$25 million", "twenty five million dollars", "$25,000,000");
    expectSame("one dollar", "$1", "one dollar");
    expectSame("2.50 dollars", "$2.50", "two dollars and fifty cents", "two dollars fifty cents");
    expectSame("50 cents", "$0.50", "fifty cents", "50¢");
    expectSame("5 pounds 10 euros", "£5 €10", "five pounds ten euros");
    expectSame("a 5 dollars bill", "a $5 bill", "a five dollar bill");
  });
});

describe("normalizeEnglish: spelling", () => {
  it("uses American spellings, inflections included", () => {
    expectSame("the color of the theater traveled to the center of the neighborhood", "The colour of the theatre travelled to the centre of the neighbourhood");
    expectSame("favorite honorable humor splendors", "favourite honourable humour splendours");
    expectSame("realize organization recognized analyzing", "realise organisation recognised analysing");
    expectSame("counseled marvelous counselor jewelry", "counselled marvellous counsellor jewellery");
    expectSame("defense offenses gray plow judgment", "defence offences grey plough judgement");
  });

  it("leaves American spellings and look-alike words as they are", () => {
    const words = "color traveled hour flour your tour exercise advertise analyses greyhound";
    expect(normalizeEnglish(words)).toBe(words);
  });
});

describe("normalizeEnglish: reference transcripts", () => {
  const manifest = (set: string): string[] => readJsonl<{ text: string }>(sharedPath("data", "speech", set, "manifest.jsonl")).map((e) => e.text);

  it("is idempotent", () => {
    const texts = [
      "Printing, in the only sense with which we are at present concerned, differs from most if not from all the arts",
      'the Gutenberg, or "forty-two line Bible" of about fourteen fifty-five,',
      "richard the three s ghosts, $2.50, 1960's, one oh one, Mr. O'Brien's colour",
    ];
    for (const text of texts) {
      const once = normalizeEnglish(text);
      expect(normalizeEnglish(once)).toBe(once);
    }
  });

  it("turns LJSpeech's printed text into spoken words", () => {
    expect(normalizeEnglish('the Gutenberg, or "forty-two line Bible" of about fourteen fifty-five,')).toBe("the gutenberg or 42 line bible of about 1455");
    expect(normalizeEnglish("The first books were printed in black letter, i.e. the letter which was a Gothic development")).toBe(
      "the 1st books were printed in black letter i e the letter which was a gothic development",
    );
  });

  it.skipIf(shared.missing)("leaves most LibriSpeech references as they are", () => {
    const refs = LIBRISPEECH.flatMap(manifest);
    expect(refs.length).toBeGreaterThan(0);
    const changed = refs.filter((ref) => normalizeEnglish(ref) !== ref);
    expect(changed.length / refs.length).toBeLessThan(0.35);
    for (const ref of refs) {
      const normal = normalizeEnglish(ref);
      expect(normalizeEnglish(normal)).toBe(normal);
    }
  });
});
