-- The append is the hot path (every turn of every conversation); this migration takes work off it, measured with
-- bench:scale at 10M messages and bench:append (bench/README.md, "append path"), and makes search find the forms
-- of a verb that the Snowball stemmer splits ("ligar luz" finds "Liguei a luz da cozinha").

-- Message ids in time order (UUID version 7, RFC 9562; PostgreSQL 18 has uuidv7(), 16 does not): new ids go to the
-- right edge of the primary key instead of a random leaf of a 10M-entry index, so an append touches one hot page
-- instead of reading and dirtying a cold one (and writing it whole into the WAL after each checkpoint).
CREATE OR REPLACE FUNCTION mordomo_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN encode(
    set_bit(set_bit(
        overlay(uuid_send(gen_random_uuid())
                PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                FROM 1 FOR 6),
        52, 1), 53, 1),
    'hex')::uuid;
ALTER TABLE messages ALTER COLUMN id SET DEFAULT mordomo_uuid_v7();

-- The seed's index on role held three values, and every append paid for it: user and assistant are half the rows
-- each, which no plan reads through an index (a role is asked for with a conversation, a user, a time or a search,
-- each with its own index). Only the rare one is worth an index: system messages, newest first. Appends of the
-- other two roles do not enter it.
DROP INDEX IF EXISTS idx_messages_role;
CREATE INDEX idx_messages_role ON messages (timestamp DESC) WHERE role = 'system';

-- Only users' utterances carry an intent: the assistant's answers (half the rows) no longer enter the index. Every
-- query on intent names one (intent = $1) or groups the non-null ones, which the partial index serves.
CREATE INDEX IF NOT EXISTS idx_messages_intent_given ON messages(intent) WHERE intent IS NOT NULL;
DROP INDEX IF EXISTS idx_messages_intent;
ALTER INDEX idx_messages_intent_given RENAME TO idx_messages_intent;

-- The counter updated on every append leaves room on its page for the new row version (HOT: no index entry).
ALTER TABLE conversations SET (fillfactor = 85);

-- Typos were caught by a trigram index over every message's text (a hundred GIN entries per message, on every
-- append). Now by a vocabulary: each distinct word ever written, once, with its search lexeme. A query word no
-- message has is looked up among the words most like it (search below). A few tens of thousands of rows after
-- years of history, instead of an index the size of the messages.
DROP INDEX IF EXISTS idx_messages_trigram;
CREATE TABLE IF NOT EXISTS search_words (
    word text PRIMARY KEY,
    lexeme text GENERATED ALWAYS AS ((tsvector_to_array(to_tsvector('mordomo_pt'::regconfig, word)))[1]) STORED
);
CREATE INDEX IF NOT EXISTS idx_search_words_trigram ON search_words USING GIN (word gin_trgm_ops);
CREATE INDEX IF NOT EXISTS idx_search_words_lexeme ON search_words (lexeme);

-- The words of a text as the vocabulary keeps them: folded (no accents, lower case), letters only, 3 to 30 of them
-- (numbers, codes and long tokens are not words anyone misspells). Not STRICT, so that PostgreSQL inlines it into
-- the statement that calls it instead of planning it again on every call.
CREATE OR REPLACE FUNCTION search_words_of(content text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT w FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, mordomo_fold(content)))) AS w
     WHERE w ~ '^[a-z]{3,30}$'
$$;

-- The vocabulary learns from messages in batches (the scheduler's search-words job, every minute), not in the
-- append: parsing each message's words again in its own transaction cost a third of the append's time at 10M
-- messages (bench/README.md, "append path"). Message ids are in time order (UUID v7, above), so the messages not
-- learned yet are those after `up_to`; a batch stops a minute short of now, so that a transaction still running
-- with an older id commits before the batch passes its id. A typo of a word first written in the last minute or
-- two is not corrected yet; the word itself is found at once, by the full-text index.
CREATE TABLE IF NOT EXISTS search_words_learned (
    single boolean PRIMARY KEY DEFAULT true CHECK (single),
    up_to uuid NOT NULL
);

-- The smallest UUID v7 of the millisecond `at`: ids below it were made before.
CREATE OR REPLACE FUNCTION mordomo_uuid_v7_floor(at timestamptz) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN encode(substring(int8send((extract(epoch FROM at) * 1000)::bigint) FROM 3) || '\x70008000000000000000'::bytea, 'hex')::uuid;

-- Learns the words of at most `max_messages` messages after `up_to` and older than `settle`; returns how many it
-- read (0: caught up). Tests and benchmarks, which write nothing meanwhile, pass a settle of zero.
CREATE OR REPLACE FUNCTION learn_search_words(max_messages integer DEFAULT 100000, settle interval DEFAULT '1 minute') RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    since uuid;
    last_id uuid;
    read_count integer;
BEGIN
    SELECT up_to INTO since FROM search_words_learned FOR UPDATE;
    -- (uuid has no max(); its text sorts the same way.)
    SELECT max(batch.id::text)::uuid, count(*) INTO last_id, read_count
      FROM (SELECT id FROM messages
             WHERE id > since AND id < mordomo_uuid_v7_floor(clock_timestamp() - settle)
             ORDER BY id LIMIT max_messages) batch;
    IF read_count = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO search_words (word)
    SELECT DISTINCT w FROM messages m, search_words_of(m.content) AS w WHERE m.id > since AND m.id <= last_id
    ON CONFLICT DO NOTHING;
    UPDATE search_words_learned SET up_to = last_id;
    RETURN read_count;
END;
$$;

-- The words of the messages written so far, once; new messages (UUID v7 ids, all above this mark) go to the job.
INSERT INTO search_words (word)
SELECT DISTINCT w FROM messages, search_words_of(content) AS w
ON CONFLICT DO NOTHING;
INSERT INTO search_words_learned (up_to) VALUES (mordomo_uuid_v7_floor(clock_timestamp()))
ON CONFLICT (single) DO NOTHING;

-- The insert trigger of 011, the user's last interaction now from the messages' own user_id (set by
-- messages_set_user, migration 013) rather than a join back to conversations.
CREATE OR REPLACE FUNCTION messages_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations c
       SET message_count = c.message_count + n.added
      FROM (SELECT conversation_id, count(*)::integer AS added FROM new_rows GROUP BY conversation_id) n
     WHERE c.id = n.conversation_id;

    UPDATE users u
       SET last_interaction_at = GREATEST(u.last_interaction_at, latest.at)
      FROM (SELECT user_id, max(timestamp) AS at FROM new_rows WHERE user_id IS NOT NULL GROUP BY user_id) latest
     WHERE u.id = latest.user_id
       AND u.last_interaction_at IS DISTINCT FROM GREATEST(u.last_interaction_at, latest.at);

    PERFORM message_rollup_mark(array_agg(DISTINCT (timestamp AT TIME ZONE 'UTC')::date))
       FROM new_rows WHERE timestamp < date_trunc('day', clock_timestamp(), 'UTC')
      HAVING count(*) > 0;
    RETURN NULL;
END;
$$;

-- Verbs whose forms the Snowball stemmer does not bring to one lexeme: irregular verbs (fazer: faço, fiz, fez,
-- feito), stem vowels that change (dormir: durmo; sentir: sinto; pedir: peço), short stems it leaves whole (abrir:
-- abri, abriu), and -ear verbs (passear: passeio). Each verb with its common forms; the lexemes of one verb's forms
-- stand for each other in a search. (Spelling changes of regular verbs, ligar: liguei, ficar: fiquei, are a rule
-- below, not a list.) Forms that are stop words (foi, era, tem, está) drop out when stemmed.
CREATE TABLE IF NOT EXISTS search_verbs (
    verb text PRIMARY KEY,
    forms text NOT NULL
);
-- What a search reads, derived from search_verbs by search_verbs_derive(): each lexeme of a verb's forms...
CREATE TABLE IF NOT EXISTS search_verb_lexemes (
    lexeme text NOT NULL,
    verb text NOT NULL,
    PRIMARY KEY (lexeme, verb)
);
CREATE INDEX IF NOT EXISTS idx_search_verb_lexemes_verb ON search_verb_lexemes (verb);
-- ...and the lexemes of auxiliary verbs (ser, estar, ter, haver, ir), some of whose forms are stop words: "tenho
-- reunião" keeps only "reunião", so "ter reunião" must not ask for a form of ter. A search drops them, unless
-- nothing else is left.
CREATE TABLE IF NOT EXISTS search_auxiliary_lexemes (
    lexeme text PRIMARY KEY
);

-- Rebuilds the two derived tables; run after adding verbs to search_verbs.
CREATE OR REPLACE FUNCTION search_verbs_derive() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM search_verb_lexemes;
    INSERT INTO search_verb_lexemes (lexeme, verb)
    SELECT DISTINCT l, v.verb
      FROM search_verbs v, unnest(tsvector_to_array(to_tsvector('mordomo_pt'::regconfig, v.verb || ' ' || v.forms))) AS l;
    DELETE FROM search_auxiliary_lexemes;
    INSERT INTO search_auxiliary_lexemes (lexeme)
    SELECT DISTINCT l.lexeme
      FROM search_verbs v JOIN search_verb_lexemes l ON l.verb = v.verb
     WHERE EXISTS (SELECT 1 FROM regexp_split_to_table(v.forms, '\s+') AS form
                    WHERE numnode(plainto_tsquery('mordomo_pt'::regconfig, form)) = 0);
$$;

INSERT INTO search_verbs (verb, forms)
SELECT v.verb, v.forms
  FROM (VALUES
    ('fazer', 'faço faz fazemos fazem fiz fez fizemos fizeram fazia faziam farei fará faremos farão faria fariam faça façam fizesse fizer feito feita feitos feitas fazendo'),
    ('desfazer', 'desfaço desfaz desfiz desfez desfeito desfeita desfaça'),
    ('refazer', 'refaço refaz refiz refez refeito refeita refaça'),
    ('dizer', 'digo diz dizemos dizem disse dissemos disseram dizia direi dirá diria diga digam dissesse disser dito dita dizendo'),
    ('trazer', 'trago traz trazemos trazem trouxe trouxemos trouxeram trazia trarei trará traria traga tragam trouxesse trouxer trazido trazendo'),
    ('ver', 'vejo vê vemos veem vi viu vimos viram via viam verei verá veria veja vejam visse vir visto vista vendo'),
    ('rever', 'revejo revê revi reviu reveja revisto'),
    ('prever', 'prevejo prevê previ previu preveja previsto previsão'),
    ('vir', 'venho vem vimos vêm vim veio viemos vieram vinha virei virá viria venha venham viesse vier vindo'),
    ('ir', 'vou vai vamos vão fui foi fomos foram ia iam irei irá iremos irão iria vá vão fosse for ido indo'),
    ('pôr', 'ponho põe pomos põem pus pôs pusemos puseram punha porei porá poria ponha ponham pusesse puser posto posta pondo'),
    ('colocar', 'coloco coloca coloquei colocou coloque coloquem colocado colocada colocando'),
    ('dar', 'dou dá damos dão dei deu demos deram dava darei dará daria dê deem desse der dado dada dando'),
    ('poder', 'posso pode podemos podem pude pôde pudemos puderam podia poderei poderá poderia possa possam pudesse puder podido podendo'),
    ('querer', 'quero quer queremos querem quis quisemos quiseram queria quererei quererá queria queira queiram quisesse quiser querido querendo'),
    ('saber', 'sei sabe sabemos sabem soube soubemos souberam sabia saberei saberá saberia saiba saibam soubesse souber sabido sabendo'),
    ('ter', 'tenho tem temos têm tive teve tivemos tiveram tinha terei terá teria tenha tenham tivesse tiver tido tendo'),
    ('manter', 'mantenho mantém mantemos mantêm mantive manteve mantinha mantenha mantido mantendo'),
    ('obter', 'obtenho obtém obtive obteve obtinha obtenha obtido'),
    ('estar', 'estou está estamos estão estive esteve estivemos estiveram estava estarei estará estaria esteja estejam estivesse estiver estado estando'),
    ('ser', 'sou é somos são fui foi fomos foram era eram serei será seria seja sejam fosse for sido sendo'),
    ('haver', 'hei há havemos hão houve havia haverá haveria haja hajam houvesse houver havido havendo'),
    ('ler', 'leio lê lemos leem li leu lemos leram lia lerei lerá leria leia leiam lesse ler lido lida lendo'),
    ('crer', 'creio crê cremos creem cri creu cria creia'),
    ('sair', 'saio sai saímos saem saí saiu saíram saía sairei sairá sairia saia saiam saísse sair saído saindo'),
    ('cair', 'caio cai caímos caem caí caiu caíram caía cairá caia caído caindo'),
    ('ouvir', 'ouço ouve ouvimos ouvem ouvi ouviu ouviram ouvia ouvirei ouvirá ouviria ouça ouçam ouvisse ouvido ouvindo'),
    ('pedir', 'peço pede pedimos pedem pedi pediu pediram pedia pedirei pedirá pediria peça peçam pedisse pedido pedindo'),
    ('medir', 'meço mede medimos medem medi mediu media meça medido medindo'),
    ('perder', 'perco perde perdemos perdem perdi perdeu perderam perdia perca percam perdido perdendo'),
    ('valer', 'valho vale valem valeu valia valha valido'),
    ('caber', 'caibo cabe cabem coube couberam cabia caiba coubesse cabido'),
    ('dormir', 'durmo dorme dormimos dormem dormi dormiu dormiram dormia durma durmam dormido dormindo'),
    ('cobrir', 'cubro cobre cobrimos cobrem cobri cobriu cubra coberto coberta cobrindo'),
    ('descobrir', 'descubro descobre descobri descobriu descubra descoberto descoberta descobrindo'),
    ('tossir', 'tusso tosse tossi tossiu tussa tossindo'),
    ('subir', 'subo sobe subimos sobem subi subiu subiram subia suba subam subido subindo'),
    ('fugir', 'fujo foge fugimos fogem fugi fugiu fugia fuja fugido fugindo'),
    ('sentir', 'sinto sente sentimos sentem senti sentiu sentiram sentia sinta sintam sentido sentindo'),
    ('mentir', 'minto mente mentimos mentem menti mentiu minta mentindo'),
    ('seguir', 'sigo segue seguimos seguem segui seguiu seguiram seguia siga sigam seguido seguindo'),
    ('conseguir', 'consigo consegue conseguimos conseguem consegui conseguiu conseguiram conseguia consiga consigam conseguido conseguindo'),
    ('servir', 'sirvo serve servimos servem servi serviu serviram servia sirva sirvam servido servindo'),
    ('vestir', 'visto veste vestimos vestem vesti vestiu vestia vista vistam vestido vestindo'),
    ('preferir', 'prefiro prefere preferimos preferem preferi preferiu preferia prefira prefiram preferido preferindo'),
    ('repetir', 'repito repete repetimos repetem repeti repetiu repetia repita repitam repetido repetindo'),
    ('transferir', 'transfiro transfere transferimos transferem transferi transferiu transferia transfira transfiram transferido transferindo'),
    ('conferir', 'confiro confere conferimos conferem conferi conferiu conferia confira confiram conferido conferindo'),
    ('sugerir', 'sugiro sugere sugerimos sugerem sugeri sugeriu sugeria sugira sugiram sugerido sugerindo'),
    ('inserir', 'insiro insere inserimos inserem inseri inseriu inseria insira insiram inserido inserindo'),
    ('divertir', 'divirto diverte divertimos divertem diverti divertiu divirta divertido divertindo'),
    ('abrir', 'abro abre abrimos abrem abri abriu abriram abria abrirei abrirá abriria abra abram abrisse aberto aberta abertos abertas abrindo'),
    ('proteger', 'protejo protege protegemos protegem protegi protegeu proteja protejam protegido protegendo'),
    ('eleger', 'elejo elege elegi elegeu eleja eleito eleita'),
    ('corrigir', 'corrijo corrige corrigimos corrigem corrigi corrigiu corrija corrijam corrigido corrigindo'),
    ('dirigir', 'dirijo dirige dirigimos dirigem dirigi dirigiu dirija dirijam dirigido dirigindo'),
    ('exigir', 'exijo exige exigimos exigem exigi exigiu exija exijam exigido'),
    ('agir', 'ajo age agimos agem agi agiu aja ajam agido agindo'),
    ('fingir', 'finjo finge fingi fingiu finja fingindo'),
    ('atingir', 'atinjo atinge atingi atingiu atinja atingido'),
    ('passear', 'passeio passeia passeamos passeiam passeei passeou passeava passeie passeado passeando'),
    ('bloquear', 'bloqueio bloqueia bloqueamos bloqueiam bloqueei bloqueou bloqueava bloqueie bloqueado bloqueada bloqueando'),
    ('desbloquear', 'desbloqueio desbloqueia desbloqueei desbloqueou desbloqueie desbloqueado desbloqueada desbloqueando'),
    ('frear', 'freio freia freei freou freie freado freando'),
    ('pentear', 'penteio penteia penteei penteou penteie penteado penteando'),
    ('sortear', 'sorteio sorteia sorteei sorteou sorteie sorteado sorteando'),
    ('odiar', 'odeio odeia odiamos odeiam odiei odiou odeie odiado'),
    ('acender', 'acendo acende acendemos acendem acendi acendeu acendia acenda acendam acendido aceso acesa acesos acesas acendendo'),
    ('morrer', 'morro morre morri morreu morria morra morto morta morrendo'),
    ('escrever', 'escrevo escreve escrevi escreveu escreva escrito escrita escrevendo'),
    ('imprimir', 'imprimo imprime imprimi imprimiu imprima impresso impressa imprimindo'),
    ('ganhar', 'ganho ganha ganhei ganhou ganhe ganhado ganhando'),
    ('gastar', 'gasto gasta gastei gastou gaste gastado gastando'),
    ('pagar', 'pago paga pagamos pagam paguei pagou pague paguem pagado pagando'),
    ('entregar', 'entrego entrega entreguei entregou entregue entreguem entregado entregando'),
    ('chegar', 'chego chega chegamos chegam cheguei chegou chegue cheguem chegado chegando')
  ) AS v(verb, forms)
ON CONFLICT (verb) DO UPDATE SET forms = EXCLUDED.forms;
SELECT search_verbs_derive();

-- The lexemes that stand for `lexeme` in a search. Regular verbs whose spelling changes before e
-- (ligar: liguei, ficar: fiquei, chegar: cheguei) leave Snowball lexemes that differ by that change (lig, ligu;
-- fic, fiqu): each stands for the other, except where the two are different words (porque is not porco).
CREATE OR REPLACE FUNCTION search_lexeme_variants(lexeme text) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE STRICT AS $$
    SELECT array_agg(DISTINCT variant ORDER BY variant) FILTER (WHERE variant <> lexeme) FROM (
        SELECT CASE
                   WHEN lexeme ~ 'gu$' THEN left(lexeme, -1)
                   WHEN lexeme ~ 'qu$' THEN left(lexeme, -2) || 'c'
                   WHEN lexeme ~ 'g$' THEN lexeme || 'u'
                   WHEN lexeme ~ 'c$' THEN left(lexeme, -1) || 'qu'
                   -- Nouns in -ão: portão → porta, portões → porto, reunião → reunia, reuniões → reunio (after
                   -- unaccent), as Snowball leaves them; it strips a final a or o from most other words.
                   WHEN lexeme ~ '..a$' THEN left(lexeme, -1) || 'o'
                   WHEN lexeme ~ '..o$' THEN left(lexeme, -1) || 'a'
               END AS variant
         WHERE length(lexeme) >= 3 AND lexeme NOT IN ('porc', 'porqu', 'parc', 'parqu', 'sac', 'saqu', 'aqu', 'ac')
        UNION ALL
        SELECT other.lexeme
          FROM search_verb_lexemes mine JOIN search_verb_lexemes other ON other.verb = mine.verb
         WHERE mine.lexeme = search_lexeme_variants.lexeme
    ) variants
$$;

-- A lexeme as a tsquery operand, quoted as tsquery input wants (no normalisation: it is already a lexeme).
CREATE OR REPLACE FUNCTION search_lexeme_query(lexeme text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery;

-- The tsquery of a search: the web-search syntax of websearch_to_tsquery, with each word's lexeme widened to its
-- verb's other lexemes and, for a word no message has, to the lexemes of the (at most three) known words most
-- like it (a typo: "lampda" for "lâmpada"). Trigram similarity 0.45, not pg_trgm's 0.3 (the index's threshold):
-- at 0.3 "porco" finds "porta" and "porque"; "lampda" and "lâmpada" are 0.5. `corrected` says a word was taken
-- for a typo.
CREATE OR REPLACE FUNCTION search_query(q text, OUT query tsquery, OUT corrected boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE STRICT AS $$
DECLARE
    folded text := mordomo_fold(q);
    without text;
    word_of_query text;
    its_lexeme text;
    variants text[];
    lookalikes text[];
    variant text;
    substitute tsquery;
BEGIN
    corrected := false;
    -- Auxiliary verbs out, while something is left ("ter reunião" is "reunião"). Folding changes no lexeme.
    FOR word_of_query IN
        SELECT DISTINCT w FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, folded))) AS w
         WHERE w ~ '^[a-z]{2,30}$'
           AND (tsvector_to_array(to_tsvector('mordomo_pt'::regconfig, w)))[1] IN (SELECT lexeme FROM search_auxiliary_lexemes)
    LOOP
        without := regexp_replace(folded, '(^|[^a-z0-9])' || word_of_query || '(?=$|[^a-z0-9])', '\1', 'g');
        IF numnode(websearch_to_tsquery('mordomo_pt', without)) > 0 THEN
            folded := without;
        END IF;
    END LOOP;
    query := websearch_to_tsquery('mordomo_pt', folded);
    IF numnode(query) = 0 THEN
        RETURN;
    END IF;
    FOR word_of_query IN
        SELECT DISTINCT w FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, folded))) AS w WHERE w ~ '^[a-z]{2,30}$'
    LOOP
        its_lexeme := (tsvector_to_array(to_tsvector('mordomo_pt'::regconfig, word_of_query)))[1];
        CONTINUE WHEN its_lexeme IS NULL;
        variants := coalesce(search_lexeme_variants(its_lexeme), '{}');
        IF length(word_of_query) >= 4 AND NOT EXISTS (SELECT 1 FROM search_words s WHERE s.lexeme = ANY (variants || its_lexeme)) THEN
            lookalikes := ARRAY(
                SELECT DISTINCT s.lexeme FROM (
                    SELECT s.lexeme FROM search_words s
                     WHERE s.word % word_of_query AND similarity(s.word, word_of_query) >= 0.45 AND s.lexeme IS NOT NULL
                     ORDER BY s.word <-> word_of_query
                     LIMIT 3) s);
            IF cardinality(lookalikes) > 0 THEN
                variants := variants || lookalikes;
                corrected := true;
            END IF;
        END IF;
        IF cardinality(variants) > 0 THEN
            substitute := search_lexeme_query(its_lexeme);
            FOREACH variant IN ARRAY variants LOOP
                substitute := substitute || search_lexeme_query(variant);
            END LOOP;
            query := ts_rewrite(query, search_lexeme_query(its_lexeme), substitute);
        END IF;
    END LOOP;
END;
$$;

-- DELETE: an erase takes its person's words out (src/core/privacy.ts).
GRANT SELECT, INSERT, DELETE ON search_words TO mordomo_app;
GRANT SELECT ON search_verbs, search_verb_lexemes, search_auxiliary_lexemes TO mordomo_app;
