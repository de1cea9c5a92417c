/**
 * The built-in demo corpus: short English→French sentence pairs generated
 * from a small grammar, with French verb agreement, article and adjective
 * agreement, elision (j', l', n', qu', d'), ne … pas with de after negation,
 * est-ce que questions and imperatives. Punctuation follows fra.txt except
 * that the space before ? and ! is a plain ASCII space.
 */
import { writeFile } from 'node:fs/promises';
import { Rng } from '../engine/rng.js';
import { S2SError, ConfigError } from '../errors.js';

/** One English → French pair of the built-in corpus. */
export interface GeneratedPair {
  source: string;
  target: string;
}

/** Options of `generateCorpus`. */
export interface GenerateCorpusOptions {
  /** Number of distinct pairs. Default 5000. */
  size?: number;
  /** Default 1. */
  seed?: number;
  /** Longest English sentence, in characters. Default 40. */
  maxSourceLength?: number;
}

type Gender = 'm' | 'f';

/** A French word with the form it takes before a vowel (le → l', ma → mon, beau → bel). */
interface FrWord {
  text: string;
  beforeVowel?: string;
}

interface Subject {
  /** Lowercase unless "I" or a name, so it can follow Do/Is in questions. */
  en: string;
  fr: FrWord;
  /** French conjugation slot: 0 je, 1 tu, 2 il/elle, 3 nous, 4 vous, 5 ils/elles. */
  slot: number;
  gender: Gender;
  plural: boolean;
  human: boolean;
}

/** Conjugation slot → English: does the verb take -s / "is"? */
const THIRD_SINGULAR = 2;

const SUBJECTS: Subject[] = [
  { en: 'I', fr: { text: 'je', beforeVowel: "j'" }, slot: 0, gender: 'm', plural: false, human: true },
  { en: 'you', fr: { text: 'tu' }, slot: 1, gender: 'm', plural: false, human: true },
  { en: 'he', fr: { text: 'il' }, slot: 2, gender: 'm', plural: false, human: true },
  { en: 'she', fr: { text: 'elle' }, slot: 2, gender: 'f', plural: false, human: true },
  { en: 'we', fr: { text: 'nous' }, slot: 3, gender: 'm', plural: true, human: true },
  { en: 'they', fr: { text: 'ils' }, slot: 5, gender: 'm', plural: true, human: true },
  { en: 'Tom', fr: { text: 'Tom' }, slot: 2, gender: 'm', plural: false, human: true },
  { en: 'Mary', fr: { text: 'Mary' }, slot: 2, gender: 'f', plural: false, human: true },
  { en: 'my sister', fr: { text: 'ma sœur' }, slot: 2, gender: 'f', plural: false, human: true },
  { en: 'my brother', fr: { text: 'mon frère' }, slot: 2, gender: 'm', plural: false, human: true },
  { en: 'my mother', fr: { text: 'ma mère' }, slot: 2, gender: 'f', plural: false, human: true },
  { en: 'my father', fr: { text: 'mon père' }, slot: 2, gender: 'm', plural: false, human: true },
  { en: 'my friends', fr: { text: 'mes amis' }, slot: 5, gender: 'm', plural: true, human: true },
  { en: 'the children', fr: { text: 'les enfants' }, slot: 5, gender: 'm', plural: true, human: true },
  { en: 'the girls', fr: { text: 'les filles' }, slot: 5, gender: 'f', plural: true, human: true },
  { en: 'the cat', fr: { text: 'le chat' }, slot: 2, gender: 'm', plural: false, human: false },
  { en: 'the dog', fr: { text: 'le chien' }, slot: 2, gender: 'm', plural: false, human: false },
];

/** Adjective forms: masculine, feminine, masculine plural, feminine plural. */
interface Adjective {
  en: string;
  forms: [string, string, string, string];
  /** Masculine singular before a vowel (bel, vieil, nouvel). */
  mascBeforeVowel?: string;
  /** Goes before the noun in French (petit chat) rather than after (chat noir). */
  prenominal?: boolean;
  humanOnly?: boolean;
}

const adj = (en: string, forms: [string, string, string, string], extra: Partial<Adjective> = {}): Adjective => ({
  en,
  forms,
  ...extra,
});
const regular = (m: string): [string, string, string, string] => [m, m + 'e', m + 's', m + 'es'];
const epicene = (m: string): [string, string, string, string] => [m, m, m + 's', m + 's'];

const PREDICATE_ADJECTIVES: Adjective[] = [
  adj('happy', ['heureux', 'heureuse', 'heureux', 'heureuses']),
  adj('tired', regular('fatigué')),
  adj('sad', epicene('triste')),
  adj('sick', epicene('malade')),
  adj('busy', regular('occupé'), { humanOnly: true }),
  adj('ready', regular('prêt')),
  adj('angry', regular('fâché')),
  adj('tall', regular('grand')),
  adj('small', regular('petit')),
  adj('young', epicene('jeune')),
  adj('old', ['vieux', 'vieille', 'vieux', 'vieilles']),
  adj('rich', epicene('riche'), { humanOnly: true }),
  adj('beautiful', ['beau', 'belle', 'beaux', 'belles']),
  adj('smart', regular('intelligent')),
  adj('nice', ['gentil', 'gentille', 'gentils', 'gentilles']),
  adj('strong', regular('fort')),
];

const SMALL = adj('small', regular('petit'), { prenominal: true });
const BIG = adj('big', regular('grand'), { prenominal: true });
const OLD = adj('old', ['vieux', 'vieille', 'vieux', 'vieilles'], { prenominal: true, mascBeforeVowel: 'vieil' });
const NEW = adj('new', ['nouveau', 'nouvelle', 'nouveaux', 'nouvelles'], { prenominal: true, mascBeforeVowel: 'nouvel' });
const BEAUTIFUL = adj('beautiful', ['beau', 'belle', 'beaux', 'belles'], { prenominal: true, mascBeforeVowel: 'bel' });
const RED = adj('red', epicene('rouge'));
const BLACK = adj('black', regular('noir'));
const WHITE = adj('white', ['blanc', 'blanche', 'blancs', 'blanches']);
const GREEN = adj('green', regular('vert'));
const BLUE = adj('blue', regular('bleu'));

const ANIMAL_ADJECTIVES = [SMALL, BIG, OLD, BEAUTIFUL, BLACK, WHITE];
const THING_ADJECTIVES = [SMALL, BIG, OLD, NEW, BEAUTIFUL, RED, BLACK, WHITE, GREEN, BLUE];
const FOOD_ADJECTIVES = [SMALL, BIG];

/** Predicates that are French "avoir" + noun (I'm hungry → J'ai faim). */
const AVOIR_IDIOMS: { en: string; fr: string }[] = [
  { en: 'hungry', fr: 'faim' },
  { en: 'thirsty', fr: 'soif' },
  { en: 'cold', fr: 'froid' },
  { en: 'scared', fr: 'peur' },
];

/** Invariable predicates after "to be". */
const PLACES: { en: string; fr: string }[] = [
  { en: 'at home', fr: 'à la maison' },
  { en: 'here', fr: 'ici' },
  { en: 'outside', fr: 'dehors' },
  { en: 'late', fr: 'en retard' },
  { en: 'in the kitchen', fr: 'dans la cuisine' },
  { en: 'at school', fr: "à l'école" },
  { en: 'in the garden', fr: 'dans le jardin' },
];

type Tag = 'animal' | 'food' | 'drink' | 'thing' | 'fixture' | 'readable' | 'writable' | 'openable' | 'person';

interface Noun {
  en: [string, string];
  fr: [string, string];
  gender: Gender;
  tags: Tag[];
  /** Uncountable: no a/an, no plural; bare use is partitive (du lait). */
  mass?: boolean;
  adjectives?: Adjective[];
}

const noun = (
  en: string,
  enPlural: string,
  fr: string,
  frPlural: string,
  gender: Gender,
  tags: Tag[],
  adjectives: Adjective[] = [],
): Noun => ({ en: [en, enPlural], fr: [fr, frPlural], gender, tags, adjectives });
const massNoun = (en: string, fr: string, gender: Gender, tags: Tag[]): Noun => ({
  en: [en, en],
  fr: [fr, fr],
  gender,
  tags,
  mass: true,
});

const NOUNS: Noun[] = [
  noun('cat', 'cats', 'chat', 'chats', 'm', ['animal'], ANIMAL_ADJECTIVES),
  noun('dog', 'dogs', 'chien', 'chiens', 'm', ['animal'], ANIMAL_ADJECTIVES),
  noun('bird', 'birds', 'oiseau', 'oiseaux', 'm', ['animal'], ANIMAL_ADJECTIVES),
  noun('horse', 'horses', 'cheval', 'chevaux', 'm', ['animal'], ANIMAL_ADJECTIVES),
  noun('apple', 'apples', 'pomme', 'pommes', 'f', ['food'], [...FOOD_ADJECTIVES, RED, GREEN]),
  noun('orange', 'oranges', 'orange', 'oranges', 'f', ['food'], FOOD_ADJECTIVES),
  noun('cake', 'cakes', 'gâteau', 'gâteaux', 'm', ['food'], FOOD_ADJECTIVES),
  noun('banana', 'bananas', 'banane', 'bananes', 'f', ['food'], FOOD_ADJECTIVES),
  noun('egg', 'eggs', 'œuf', 'œufs', 'm', ['food'], FOOD_ADJECTIVES),
  massNoun('bread', 'pain', 'm', ['food']),
  massNoun('rice', 'riz', 'm', ['food']),
  massNoun('cheese', 'fromage', 'm', ['food']),
  massNoun('soup', 'soupe', 'f', ['food']),
  massNoun('meat', 'viande', 'f', ['food']),
  massNoun('milk', 'lait', 'm', ['drink']),
  massNoun('coffee', 'café', 'm', ['drink']),
  massNoun('tea', 'thé', 'm', ['drink']),
  massNoun('water', 'eau', 'f', ['drink']),
  massNoun('juice', 'jus', 'm', ['drink']),
  massNoun('wine', 'vin', 'm', ['drink']),
  noun('book', 'books', 'livre', 'livres', 'm', ['thing', 'readable', 'writable', 'openable'], THING_ADJECTIVES),
  noun('letter', 'letters', 'lettre', 'lettres', 'f', ['thing', 'readable', 'writable'], [SMALL, BIG, OLD, BEAUTIFUL]),
  noun('newspaper', 'newspapers', 'journal', 'journaux', 'm', ['thing', 'readable'], [OLD, NEW]),
  noun('car', 'cars', 'voiture', 'voitures', 'f', ['thing'], THING_ADJECTIVES),
  noun('house', 'houses', 'maison', 'maisons', 'f', ['thing'], THING_ADJECTIVES),
  noun('bike', 'bikes', 'vélo', 'vélos', 'm', ['thing'], THING_ADJECTIVES),
  noun('door', 'doors', 'porte', 'portes', 'f', ['fixture', 'openable'], [OLD, NEW, RED, BLUE, GREEN, WHITE, BLACK]),
  noun('window', 'windows', 'fenêtre', 'fenêtres', 'f', ['fixture', 'openable'], [SMALL, BIG, OLD, NEW]),
  noun('box', 'boxes', 'boîte', 'boîtes', 'f', ['thing', 'openable'], THING_ADJECTIVES),
  noun('key', 'keys', 'clé', 'clés', 'f', ['thing'], [SMALL, BIG, OLD, NEW]),
  noun('hat', 'hats', 'chapeau', 'chapeaux', 'm', ['thing'], THING_ADJECTIVES),
  noun('shirt', 'shirts', 'chemise', 'chemises', 'f', ['thing'], THING_ADJECTIVES),
  noun('umbrella', 'umbrellas', 'parapluie', 'parapluies', 'm', ['thing', 'openable'], THING_ADJECTIVES),
  noun('bag', 'bags', 'sac', 'sacs', 'm', ['thing', 'openable'], THING_ADJECTIVES),
  noun('pen', 'pens', 'stylo', 'stylos', 'm', ['thing'], THING_ADJECTIVES),
  noun('watch', 'watches', 'montre', 'montres', 'f', ['thing'], THING_ADJECTIVES),
  noun('computer', 'computers', 'ordinateur', 'ordinateurs', 'm', ['thing'], [SMALL, BIG, OLD, NEW]),
];

/** People as objects: already a full noun phrase, unchanged by negation. */
const PEOPLE: { en: string; fr: string }[] = [
  { en: 'Tom', fr: 'Tom' },
  { en: 'Mary', fr: 'Mary' },
  { en: 'my sister', fr: 'ma sœur' },
  { en: 'my mother', fr: 'ma mère' },
  { en: 'my father', fr: 'mon père' },
  { en: 'the children', fr: 'les enfants' },
];

interface Verb {
  en: string;
  en3: string;
  /** Present tense by conjugation slot. */
  fr: [string, string, string, string, string, string];
  /** Second-person singular imperative, if the verb is used in commands. */
  imperative?: string;
  objects: Tag[];
  /** English bare plurals/mass nouns are generic: I like cats → J'aime les chats. */
  generic?: boolean;
  humanSubjectOnly?: boolean;
  /** Acts on particular objects: "close windows" reads oddly, so no bare plurals. */
  specificObject?: boolean;
  /** Verb used instead when the object is a person (love Mary → aimer). */
  withPerson?: [string, string, string, string, string, string];
}

const VERBS: Verb[] = [
  {
    en: 'like', en3: 'likes', fr: ['aime', 'aimes', 'aime', 'aimons', 'aimez', 'aiment'],
    objects: ['animal', 'food', 'drink', 'thing'], generic: true,
  },
  {
    en: 'love', en3: 'loves', fr: ['adore', 'adores', 'adore', 'adorons', 'adorez', 'adorent'],
    objects: ['animal', 'food', 'drink', 'person'], generic: true,
    withPerson: ['aime', 'aimes', 'aime', 'aimons', 'aimez', 'aiment'],
  },
  {
    en: 'eat', en3: 'eats', fr: ['mange', 'manges', 'mange', 'mangeons', 'mangez', 'mangent'],
    imperative: 'mange', objects: ['food'],
  },
  {
    en: 'drink', en3: 'drinks', fr: ['bois', 'bois', 'boit', 'buvons', 'buvez', 'boivent'],
    imperative: 'bois', objects: ['drink'],
  },
  {
    en: 'see', en3: 'sees', fr: ['vois', 'vois', 'voit', 'voyons', 'voyez', 'voient'],
    objects: ['animal', 'thing', 'fixture', 'person'],
  },
  {
    en: 'want', en3: 'wants', fr: ['veux', 'veux', 'veut', 'voulons', 'voulez', 'veulent'],
    objects: ['animal', 'food', 'drink', 'thing'],
  },
  {
    en: 'have', en3: 'has', fr: ['ai', 'as', 'a', 'avons', 'avez', 'ont'],
    objects: ['animal', 'thing'], humanSubjectOnly: true,
  },
  {
    en: 'buy', en3: 'buys', fr: ['achète', 'achètes', 'achète', 'achetons', 'achetez', 'achètent'],
    imperative: 'achète', objects: ['thing', 'food', 'drink'], humanSubjectOnly: true,
  },
  {
    en: 'read', en3: 'reads', fr: ['lis', 'lis', 'lit', 'lisons', 'lisez', 'lisent'],
    imperative: 'lis', objects: ['readable'], humanSubjectOnly: true,
  },
  {
    en: 'write', en3: 'writes', fr: ['écris', 'écris', 'écrit', 'écrivons', 'écrivez', 'écrivent'],
    imperative: 'écris', objects: ['writable'], humanSubjectOnly: true,
  },
  {
    en: 'open', en3: 'opens', fr: ['ouvre', 'ouvres', 'ouvre', 'ouvrons', 'ouvrez', 'ouvrent'],
    imperative: 'ouvre', objects: ['openable'], humanSubjectOnly: true, specificObject: true,
  },
  {
    en: 'close', en3: 'closes', fr: ['ferme', 'fermes', 'ferme', 'fermons', 'fermez', 'ferment'],
    imperative: 'ferme', objects: ['openable'], humanSubjectOnly: true, specificObject: true,
  },
];

const ETRE = ['suis', 'es', 'est', 'sommes', 'êtes', 'sont'];
const AVOIR = ['ai', 'as', 'a', 'avons', 'avez', 'ont'];
const EN_BE = ['am', 'are', 'is', 'are', 'are', 'are'];
const EN_BE_NOT = ["'m not", "aren't", "isn't", "aren't", "aren't", "aren't"];

type Determiner = 'the' | 'a' | 'bare' | 'my' | 'your' | 'his' | 'her' | 'this';
type Polarity = 'affirmative' | 'negative' | 'question';

/** A French noun phrase whose determiner may still change under negation. */
interface NounPhrase {
  en: string;
  /** Words after the determiner. */
  frRest: FrWord[];
  frDeterminer: FrWord | null;
  /** Indefinite or partitive: becomes de / d' after ne … pas. */
  negatesToDe: boolean;
}

/**
 * Generates `size` distinct pairs, each English sentence with exactly one
 * French translation. Deterministic for a given seed.
 */
export function generateCorpus(options: GenerateCorpusOptions = {}): GeneratedPair[] {
  const size = options.size ?? 5000;
  const seed = options.seed ?? 1;
  const maxSourceLength = options.maxSourceLength ?? 40;
  if (!(Number.isInteger(size) && size >= 0)) throw new RangeError(`size must be a non-negative integer, got ${size}`);
  const rng = new Rng(seed);
  const bySource = new Map<string, string>();
  // The grammar yields far more than 5000 sentences; the cap only stops an
  // impossible request from looping forever.
  const maxAttempts = 1000 + size * 200;
  for (let attempt = 0; bySource.size < size && attempt < maxAttempts; attempt++) {
    const pair = generateSentence(rng);
    if (pair.source.length > maxSourceLength || bySource.has(pair.source)) continue;
    bySource.set(pair.source, pair.target);
  }
  if (bySource.size < size) {
    throw new ConfigError(`synthetic grammar produced only ${bySource.size} distinct sentences of at most ${maxSourceLength} characters; asked for ${size}`);
  }
  return [...bySource].map(([source, target]) => ({ source, target }));
}

/** One random sentence pair from the grammar. */
export function generateSentence(rng: Rng): GeneratedPair {
  const r = rng.next();
  if (r < 0.6) return transitiveSentence(rng);
  if (r < 0.85) return predicateSentence(rng);
  return imperativeSentence(rng);
}

/** Tab-separated text, one `source<TAB>target` line per pair (fra.txt layout). */
export function formatCorpusTsv(pairs: readonly { source: string; target: string }[]): string {
  return pairs
    .map((p, i) => {
      if (/[\t\r\n]/.test(p.source + p.target)) throw new S2SError(`pair ${i}: tab or newline inside a sentence`);
      return `${p.source}\t${p.target}\n`;
    })
    .join('');
}

/** Writes pairs as a tab-separated corpus file (source, target), one pair per line. */
export async function writeCorpusTsv(path: string, pairs: readonly { source: string; target: string }[]): Promise<void> {
  await writeFile(path, formatCorpusTsv(pairs), 'utf8');
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

function pickPolarity(rng: Rng): Polarity {
  const r = rng.next();
  return r < 0.5 ? 'affirmative' : r < 0.75 ? 'negative' : 'question';
}

function transitiveSentence(rng: Rng): GeneratedPair {
  const verb = pick(rng, VERBS);
  const subject = pick(rng, verb.humanSubjectOnly ? SUBJECTS.filter((s) => s.human) : SUBJECTS);
  const polarity = pickPolarity(rng);
  const personObject = verb.objects.includes('person') && rng.next() < 0.3;
  const np = personObject ? personPhrase(pick(rng, PEOPLE)) : nounPhrase(rng, verb, false);
  const frVerb = (personObject && verb.withPerson ? verb.withPerson : verb.fr)[subject.slot];
  const thirdSingular = subject.slot === THIRD_SINGULAR;
  const negated = polarity === 'negative';
  const object = frObject(np, negated);

  let en: string;
  let fr: FrWord[];
  if (polarity === 'affirmative') {
    en = `${subject.en} ${thirdSingular ? verb.en3 : verb.en} ${np.en}.`;
    fr = [subject.fr, { text: frVerb }, ...object];
  } else if (polarity === 'negative') {
    en = `${subject.en} ${thirdSingular ? "doesn't" : "don't"} ${verb.en} ${np.en}.`;
    fr = [subject.fr, NE, { text: frVerb }, { text: 'pas' }, ...object];
  } else {
    en = `${thirdSingular ? 'Does' : 'Do'} ${subject.en} ${verb.en} ${np.en}?`;
    fr = [...EST_CE_QUE, subject.fr, { text: frVerb }, ...object];
  }
  return finish(en, fr, polarity === 'question' ? '?' : '.');
}

function predicateSentence(rng: Rng): GeneratedPair {
  const subject = pick(rng, SUBJECTS);
  const polarity = pickPolarity(rng);
  const kind = rng.next();
  let enPredicate: string;
  let frVerb: string;
  let frPredicate: string;
  if (kind < 0.65) {
    const adjective = pick(rng, subject.human ? PREDICATE_ADJECTIVES : PREDICATE_ADJECTIVES.filter((a) => !a.humanOnly));
    enPredicate = adjective.en;
    frVerb = ETRE[subject.slot];
    frPredicate = adjective.forms[formIndex(subject.gender, subject.plural)];
  } else if (kind < 0.85) {
    const place = pick(rng, PLACES);
    enPredicate = place.en;
    frVerb = ETRE[subject.slot];
    frPredicate = place.fr;
  } else {
    const idiom = pick(rng, AVOIR_IDIOMS);
    enPredicate = idiom.en;
    frVerb = AVOIR[subject.slot];
    frPredicate = idiom.fr;
  }

  let en: string;
  let fr: FrWord[];
  if (polarity === 'affirmative') {
    en = `${subject.en} ${EN_BE[subject.slot]} ${enPredicate}.`;
    fr = [subject.fr, { text: frVerb }, { text: frPredicate }];
  } else if (polarity === 'negative') {
    // I'm not / she isn't: the contraction attaches to "I" with no space.
    const be = EN_BE_NOT[subject.slot];
    en = `${subject.en}${be.startsWith("'") ? '' : ' '}${be} ${enPredicate}.`;
    fr = [subject.fr, NE, { text: frVerb }, { text: 'pas' }, { text: frPredicate }];
  } else {
    en = `${capitalize(EN_BE[subject.slot])} ${subject.en} ${enPredicate}?`;
    fr = [...EST_CE_QUE, subject.fr, { text: frVerb }, { text: frPredicate }];
  }
  return finish(en, fr, polarity === 'question' ? '?' : '.');
}

function imperativeSentence(rng: Rng): GeneratedPair {
  const verb = pick(rng, VERBS.filter((v) => v.imperative !== undefined));
  const negated = rng.next() < 0.4;
  const np = nounPhrase(rng, verb, true);
  const object = frObject(np, negated);
  const en = `${negated ? "Don't " + verb.en : capitalize(verb.en)} ${np.en}!`;
  const fr = negated
    ? [NE, { text: verb.imperative! }, { text: 'pas' }, ...object]
    : [{ text: verb.imperative! }, ...object];
  return finish(en, fr, '!');
}

const NE: FrWord = { text: 'ne', beforeVowel: "n'" };
const EST_CE_QUE: FrWord[] = [{ text: 'est-ce' }, { text: 'que', beforeVowel: "qu'" }];

function personPhrase(person: { en: string; fr: string }): NounPhrase {
  return { en: person.en, frDeterminer: null, frRest: [{ text: person.fr }], negatesToDe: false };
}

function nounPhrase(rng: Rng, verb: Verb, imperative: boolean): NounPhrase {
  const candidates = NOUNS.filter((n) => n.tags.some((t) => verb.objects.includes(t)));
  const n = pick(rng, candidates);
  const determiners: Determiner[] = n.mass
    ? ['the', 'bare', 'my', 'your', 'this']
    : verb.generic
      ? ['the', 'bare', 'my', 'your', 'his', 'her', 'this']
      : ['the', 'a', 'bare', 'my', 'your', 'his', 'her', 'this'];
  // Commands mostly concern "your" things; "his/her" would read oddly.
  const allowed = determiners.filter(
    (d) => !(imperative && (d === 'his' || d === 'her')) && !(verb.specificObject && d === 'bare'),
  );
  const determiner = pick(rng, allowed);
  const plural = !n.mass && (determiner === 'bare' || (determiner !== 'a' && rng.next() < 0.3));
  const adjective = !n.mass && n.adjectives && n.adjectives.length > 0 && rng.next() < 0.35 ? pick(rng, n.adjectives) : null;
  const num = plural ? 1 : 0;

  const enNoun = (adjective ? adjective.en + ' ' : '') + n.en[num];
  const enDeterminer: Record<Determiner, string> = {
    the: 'the',
    a: /^[aeiou]/.test(enNoun) ? 'an' : 'a',
    bare: '',
    my: 'my',
    your: 'your',
    his: 'his',
    her: 'her',
    this: plural ? 'these' : 'this',
  };
  const en = enDeterminer[determiner] ? `${enDeterminer[determiner]} ${enNoun}` : enNoun;

  const frRest: FrWord[] = [];
  if (adjective) {
    const form = adjective.forms[formIndex(n.gender, plural)];
    const adjWord: FrWord =
      n.gender === 'm' && !plural && adjective.mascBeforeVowel ? { text: form, beforeVowel: adjective.mascBeforeVowel } : { text: form };
    if (adjective.prenominal) frRest.push(adjWord, { text: n.fr[num] });
    else frRest.push({ text: n.fr[num] }, adjWord);
  } else {
    frRest.push({ text: n.fr[num] });
  }
  const prenominalAdjective = adjective?.prenominal === true;
  const feminine = n.gender === 'f';
  let frDeterminer: FrWord;
  let negatesToDe = false;
  switch (determiner) {
    case 'the':
      frDeterminer = definite(n.gender, plural);
      break;
    case 'a':
      frDeterminer = { text: feminine ? 'une' : 'un' };
      negatesToDe = true;
      break;
    case 'bare':
      if (verb.generic) {
        // Generic sense takes the definite article in French.
        frDeterminer = definite(n.gender, plural);
      } else if (plural) {
        // des becomes de before a prenominal adjective (de petits chats).
        frDeterminer = prenominalAdjective ? { text: 'de', beforeVowel: "d'" } : { text: 'des' };
        negatesToDe = true;
      } else {
        frDeterminer = { text: feminine ? 'de la' : 'du', beforeVowel: "de l'" };
        negatesToDe = true;
      }
      break;
    case 'my':
      frDeterminer = possessive('m', n.gender, plural);
      break;
    case 'your':
      frDeterminer = possessive('t', n.gender, plural);
      break;
    case 'his':
    case 'her':
      frDeterminer = possessive('s', n.gender, plural);
      break;
    case 'this':
      frDeterminer = plural ? { text: 'ces' } : feminine ? { text: 'cette' } : { text: 'ce', beforeVowel: 'cet' };
      break;
  }
  return { en, frDeterminer, frRest, negatesToDe };
}

function frObject(np: NounPhrase, negated: boolean): FrWord[] {
  const determiner = negated && np.negatesToDe ? { text: 'de', beforeVowel: "d'" } : np.frDeterminer;
  return determiner ? [determiner, ...np.frRest] : np.frRest;
}

function definite(gender: Gender, plural: boolean): FrWord {
  if (plural) return { text: 'les' };
  return { text: gender === 'f' ? 'la' : 'le', beforeVowel: "l'" };
}

/** mon/ma/mes, ton/ta/tes, son/sa/ses; ma → mon before a vowel (mon orange). */
function possessive(initial: 'm' | 't' | 's', gender: Gender, plural: boolean): FrWord {
  if (plural) return { text: initial + 'es' };
  if (gender === 'm') return { text: initial + 'on' };
  return { text: initial + 'a', beforeVowel: initial + 'on' };
}

function formIndex(gender: Gender, plural: boolean): number {
  return (plural ? 2 : 0) + (gender === 'f' ? 1 : 0);
}

const FRENCH_VOWEL = /^[aeiouyàâéèêëîïôœù]/i;

/**
 * Applies elision right to left (each word's form depends on the next
 * word's final form), joins, capitalises and punctuates.
 */
function finish(en: string, words: FrWord[], mark: '.' | '?' | '!'): GeneratedPair {
  const texts = words.map((w) => w.text);
  for (let i = words.length - 2; i >= 0; i--) {
    const alternative = words[i].beforeVowel;
    if (alternative !== undefined && FRENCH_VOWEL.test(texts[i + 1])) texts[i] = alternative;
  }
  let fr = '';
  for (const text of texts) fr += fr === '' || fr.endsWith("'") ? text : ' ' + text;
  // fra.txt puts a space before ? and !; we use a plain space rather than U+202F.
  fr = capitalize(fr) + (mark === '.' ? '.' : ' ' + mark);
  return { source: capitalize(en), target: fr };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
