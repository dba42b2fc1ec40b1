//! The implementation both backends share. SQL is written once with `$N`
//! placeholders (SQLite accepts them too); the few differences are in
//! [`crate::Dialect`]. Every value is a bound parameter; the only text spliced
//! into SQL is our own fragments and `--by` field names, which
//! [`crate::field_expr`] rejects when they contain quotes or backslashes
//! (hence the `AssertSqlSafe` wrappers). A macro stamps it out for each pool type, because
//! sqlx's generic bounds over two databases would drown the logic.

macro_rules! impl_store {
    ($ty:ident, $backend:expr, $dialect:expr) => {
        impl $crate::Store for $ty {
            fn backend(&self) -> $crate::Backend {
                $backend
            }

            async fn create_survey(
                &self,
                definition: &cx_core::model::survey::SurveyDefinition,
            ) -> Result<cx_core::model::SurveyId, $crate::StoreError> {
                use sqlx::Row;
                if let Err(problems) = definition.validate() {
                    return Err($crate::StoreError::Invalid(problems.join("; ")));
                }
                let json = serde_json::to_string(definition).map_err(|e| $crate::StoreError::Invalid(e.to_string()))?;
                let title = definition.title.get("en").to_string();
                let row = sqlx::query(
                    "INSERT INTO surveys (slug, title, anonymous, definition, created_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (slug) DO NOTHING RETURNING id",
                )
                .bind(&definition.slug)
                .bind(&title)
                .bind(definition.anonymous)
                .bind(&json)
                .bind($crate::now_rfc3339())
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) => Ok(cx_core::model::SurveyId(r.try_get::<i64, _>(0)?)),
                    None => Err($crate::StoreError::Conflict(format!(
                        "a survey with slug {:?} already exists",
                        definition.slug
                    ))),
                }
            }

            async fn surveys(&self) -> Result<Vec<$crate::StoredSurvey>, $crate::StoreError> {
                let rows = sqlx::query(
                    "SELECT s.id, s.definition, COALESCE((SELECT CAST(SUM(d.n) AS BIGINT) FROM day_counts d
                             WHERE d.survey_id = s.id AND d.field = '' AND d.question_id = ''
                               AND EXISTS (SELECT 1 FROM settings x WHERE x.key = 'day_counts_built')),
                            (SELECT COUNT(*) FROM responses r WHERE r.survey_id = s.id))
                     FROM surveys s ORDER BY s.id DESC",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::common::stored_survey).collect()
            }

            async fn survey(&self, key: &str) -> Result<$crate::StoredSurvey, $crate::StoreError> {
                let id: i64 = key.trim().parse().unwrap_or(-1);
                let row = sqlx::query(
                    "SELECT s.id, s.definition, COALESCE((SELECT CAST(SUM(d.n) AS BIGINT) FROM day_counts d
                             WHERE d.survey_id = s.id AND d.field = '' AND d.question_id = ''
                               AND EXISTS (SELECT 1 FROM settings x WHERE x.key = 'day_counts_built')),
                            (SELECT COUNT(*) FROM responses r WHERE r.survey_id = s.id))
                     FROM surveys s WHERE s.id = $1 OR s.slug = $2",
                )
                .bind(id)
                .bind(key.trim())
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) => $crate::common::stored_survey(&r),
                    None => Err($crate::StoreError::NotFound(format!(
                        "no survey {key:?}; `cxscore survey list` shows the surveys"
                    ))),
                }
            }

            async fn insert_responses(
                &self,
                survey: cx_core::model::SurveyId,
                batch: &[$crate::NewResponse],
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                use sqlx::Row;
                let mut counts = $crate::InsertCounts::default();
                // Comments are analysed on every core before the transaction opens.
                let analyses = $crate::common::analyze_answers(batch);
                let mut new_responses: Vec<&$crate::NewResponse> = Vec::with_capacity(batch.len());
                let mut tx = self.begin_write().await?;
                let insert = format!(
                    "INSERT INTO responses (survey_id, dedupe_key, submitted_at, submitted_day, channel, language,
                       account_id, contact_id, metadata)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {})
                     ON CONFLICT (survey_id, dedupe_key) DO NOTHING RETURNING id",
                    ($dialect.json_param)(9)
                );
                for (r, analysed) in batch.iter().zip(analyses) {
                    let metadata = serde_json::Value::Object(r.metadata.clone()).to_string();
                    let row = sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
                        .bind(survey.0)
                        .bind(&r.dedupe_key)
                        .bind(&r.submitted_at)
                        .bind(i64::from(r.submitted_on.days()))
                        .bind(&r.channel)
                        .bind(&r.language)
                        .bind(r.account.map(|a| a.0))
                        .bind(r.contact.map(|c| c.0))
                        .bind(metadata)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(row) = row else {
                        counts.duplicate += 1;
                        continue;
                    };
                    let id: i64 = row.try_get(0)?;
                    new_responses.push(r);
                    for ((question, value), t) in r.answers.iter().zip(analysed) {
                        let (int, text) = $crate::common::answer_columns(value);
                        sqlx::query(
                            "INSERT INTO answers (response_id, question_id, value_int, value_text, sentiment, sentiment_score, topics)
                             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(id)
                        .bind(question)
                        .bind(int)
                        .bind(text)
                        .bind(t.as_ref().map(|t| t.sentiment))
                        .bind(t.as_ref().map(|t| t.score))
                        .bind(t.map(|t| t.topics))
                        .execute(&mut *tx)
                        .await?;
                    }
                    counts.inserted += 1;
                }
                $crate::cube::cube_add!(tx, survey.0, &new_responses);
                tx.commit().await?;
                Ok(counts)
            }

            async fn insert_accounts(
                &self,
                batch: &[cx_core::model::customer::Account],
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                let codes: Vec<String> = batch.iter().map(|a| a.external_id.clone()).collect();
                let known = self.ids_by_code("accounts", &codes).await?;
                let mut counts = $crate::InsertCounts::default();
                let mut seen = std::collections::HashSet::new();
                let mut tx = self.begin_write().await?;
                for a in batch {
                    // A CRM export is the current truth: a known account whose
                    // fields changed (a new owner, a "lost on" date) is updated;
                    // one that did not change is a duplicate.
                    let done = sqlx::query(
                        "INSERT INTO accounts (external_id, name, industry, region, tier, sales_team, owner, since, until)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (external_id) DO UPDATE SET name = excluded.name, industry = excluded.industry,
                           region = excluded.region, tier = excluded.tier, sales_team = excluded.sales_team,
                           owner = excluded.owner, since = excluded.since, until = excluded.until
                         WHERE (accounts.name, accounts.industry, accounts.region, accounts.tier, accounts.sales_team,
                                accounts.owner, accounts.since, accounts.until)
                           IS DISTINCT FROM (excluded.name, excluded.industry, excluded.region, excluded.tier,
                                excluded.sales_team, excluded.owner, excluded.since, excluded.until)",
                    )
                    .bind(&a.external_id)
                    .bind(&a.name)
                    .bind(&a.industry)
                    .bind(&a.region)
                    .bind(&a.tier)
                    .bind(&a.sales_team)
                    .bind(&a.owner)
                    .bind(a.since.map(|d| d.to_string()))
                    .bind(a.until.map(|d| d.to_string()))
                    .execute(&mut *tx)
                    .await?;
                    let existed = known.contains_key(&a.external_id) || !seen.insert(a.external_id.clone());
                    match (existed, done.rows_affected()) {
                        (false, _) => counts.inserted += 1,
                        (true, 0) => counts.duplicate += 1,
                        (true, _) => counts.updated += 1,
                    }
                }
                // Link what was stored before its account: transactions,
                // interactions and feedback carry the customer code.
                for table in ["transactions", "interactions", "feedback"] {
                    let column = "customer";
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {table} SET account_id = (SELECT id FROM accounts WHERE accounts.external_id = {table}.{column})
                         WHERE account_id IS NULL AND {column} IN (SELECT external_id FROM accounts)"
                    )))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(counts)
            }

            async fn insert_contacts(
                &self,
                batch: &[(cx_core::model::AccountId, cx_core::model::customer::Contact)],
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                let mut counts = $crate::InsertCounts::default();
                let mut tx = self.begin_write().await?;
                for (account, c) in batch {
                    let done = sqlx::query(
                        "INSERT INTO contacts (external_id, account_id, name, role, influence, email, phone, time_zone)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (external_id) DO NOTHING",
                    )
                    .bind(&c.external_id)
                    .bind(account.0)
                    .bind(&c.name)
                    .bind(c.role.map(|r| r.as_str()))
                    .bind(c.influence)
                    .bind(&c.email)
                    .bind(&c.phone)
                    .bind(&c.time_zone)
                    .execute(&mut *tx)
                    .await?;
                    counts += $crate::common::counted(done.rows_affected(), 1);
                }
                tx.commit().await?;
                Ok(counts)
            }

            async fn insert_transactions(
                &self,
                batch: &[$crate::KeyedTransaction],
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                if batch.is_empty() {
                    return Ok($crate::InsertCounts::default());
                }
                let mut customers: Vec<String> =
                    batch.iter().map(|k| k.transaction.customer.clone()).collect();
                customers.sort_unstable();
                customers.dedup();
                let accounts = self.account_ids(&customers).await?;
                self.bulk_insert_transactions(batch.to_vec(), &accounts).await
            }

            async fn insert_linked_transactions(
                &self,
                batch: Vec<$crate::KeyedTransaction>,
                accounts: &std::collections::HashMap<String, cx_core::model::AccountId>,
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                if batch.is_empty() {
                    return Ok($crate::InsertCounts::default());
                }
                self.bulk_insert_transactions(batch, accounts).await
            }

            async fn defer_transaction_index(&self, rows: u64) -> Result<bool, $crate::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT EXISTS (SELECT 1 FROM accounts), coalesce((SELECT max(id) FROM transactions), 0)",
                )
                .fetch_one(&self.pool)
                .await?;
                let stored: i64 = row.try_get(1)?;
                if !$crate::common::worth_deferring_index(rows, stored.max(0) as u64, row.try_get(0)?) {
                    return Ok(false);
                }
                self.drop_transaction_index().await
            }

            async fn restore_transaction_index(&self) -> Result<(), $crate::StoreError> {
                // Looked up first: on PostgreSQL, CREATE INDEX IF NOT EXISTS
                // waits for the table's lock even when the index is there, and
                // every store's open calls this.
                if self.has_transaction_index().await? {
                    return Ok(());
                }
                sqlx::query($crate::common::TRANSACTIONS_ACCOUNT_INDEX)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn insert_feedback(
                &self,
                batch: &[$crate::KeyedFeedback],
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                let mut counts = $crate::InsertCounts::default();
                // Analysed before the transaction opens (on the caller's thread).
                let analyses: Vec<$crate::TextColumns> = batch.iter().map(|k| $crate::common::analyze_text(&k.item.text)).collect();
                let mut tx = self.begin_write().await?;
                for (k, t) in batch.iter().zip(analyses) {
                    let f = &k.item;
                    let done = sqlx::query(
                        "INSERT INTO feedback (dedupe_key, customer, account_id, source, date, text, lang, sentiment, sentiment_score, topics)
                         VALUES ($1, $2, (SELECT id FROM accounts WHERE external_id = $3), $4, $5, $6, $7, $8, $9, $10)
                         ON CONFLICT (dedupe_key) DO NOTHING",
                    )
                    .bind(&k.key)
                    .bind(&f.account)
                    .bind(&f.account)
                    .bind(f.source.as_str())
                    .bind(f.date.to_string())
                    .bind(&f.text)
                    .bind(t.lang)
                    .bind(t.sentiment)
                    .bind(t.score)
                    .bind(t.topics)
                    .execute(&mut *tx)
                    .await?;
                    counts += $crate::common::counted(done.rows_affected(), 1);
                }
                tx.commit().await?;
                Ok(counts)
            }

            async fn insert_interactions(
                &self,
                batch: &[(String, cx_core::model::customer::Interaction)],
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                let mut counts = $crate::InsertCounts::default();
                let mut tx = self.begin_write().await?;
                for (key, i) in batch {
                    let done = sqlx::query(
                        "INSERT INTO interactions (dedupe_key, customer, account_id, kind, date, note)
                         VALUES ($1, $2, (SELECT id FROM accounts WHERE external_id = $3), $4, $5, $6)
                         ON CONFLICT (dedupe_key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(&i.customer)
                    .bind(&i.customer)
                    .bind(i.kind.as_str())
                    .bind(i.date.to_string())
                    .bind(&i.note)
                    .execute(&mut *tx)
                    .await?;
                    counts += $crate::common::counted(done.rows_affected(), 1);
                }
                tx.commit().await?;
                Ok(counts)
            }

            async fn insert_assessments(
                &self,
                batch: &[(cx_core::model::ContactId, cx_core::model::customer::Assessment)],
            ) -> Result<$crate::InsertCounts, $crate::StoreError> {
                let mut counts = $crate::InsertCounts::default();
                let mut tx = self.begin_write().await?;
                for (contact, a) in batch {
                    let r = |i: usize| a.ratings[i].map(i64::from);
                    let done = sqlx::query(
                        "INSERT INTO assessments (contact_id, period, satisfaction, loyalty, engagement,
                           information_transfer, daily_guidance, project_support, competitive_preference)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (contact_id, period) DO NOTHING",
                    )
                    .bind(contact.0)
                    .bind(&a.period)
                    .bind(r(0))
                    .bind(r(1))
                    .bind(r(2))
                    .bind(r(3))
                    .bind(r(4))
                    .bind(r(5))
                    .bind(r(6))
                    .execute(&mut *tx)
                    .await?;
                    counts += $crate::common::counted(done.rows_affected(), 1);
                }
                tx.commit().await?;
                Ok(counts)
            }

            async fn account_ids(
                &self,
                codes: &[String],
            ) -> Result<std::collections::HashMap<String, cx_core::model::AccountId>, $crate::StoreError> {
                let ids = self.ids_by_code("accounts", codes).await?;
                Ok(ids.into_iter().map(|(k, v)| (k, cx_core::model::AccountId(v))).collect())
            }

            async fn contact_ids(
                &self,
                codes: &[String],
            ) -> Result<std::collections::HashMap<String, cx_core::model::ContactId>, $crate::StoreError> {
                let ids = self.ids_by_code("contacts", codes).await?;
                Ok(ids.into_iter().map(|(k, v)| (k, cx_core::model::ContactId(v))).collect())
            }

            async fn table_counts(&self) -> Result<$crate::TableCounts, $crate::StoreError> {
                let mut out = Vec::new();
                for table in $crate::common::TABLES {
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                        .fetch_one(&self.pool)
                        .await?;
                    out.push((table, n as u64));
                }
                Ok($crate::TableCounts(out))
            }

            async fn latest_scores(
                &self,
                survey: cx_core::model::SurveyId,
                question: &str,
            ) -> Result<Vec<(String, i64)>, $crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT a.external_id, an.value_int FROM responses r
                     JOIN answers an ON an.response_id = r.id AND an.question_id = $2
                     JOIN accounts a ON a.id = r.account_id
                     WHERE r.survey_id = $1 AND an.value_int IS NOT NULL
                     ORDER BY a.external_id, r.submitted_at, r.id",
                )
                .bind(survey.0)
                .bind(question)
                .fetch_all(&self.pool)
                .await?;
                // Ordered by account then time: the last row of each account wins.
                let mut out: Vec<(String, i64)> = Vec::new();
                for row in rows {
                    let code: String = row.try_get(0)?;
                    let score: i64 = row.try_get(1)?;
                    match out.last_mut() {
                        Some(last) if last.0 == code => last.1 = score,
                        _ => out.push((code, score)),
                    }
                }
                Ok(out)
            }

            async fn purchases(&self, by: Option<&str>) -> Result<Vec<$crate::StoredPurchase>, $crate::StoreError> {
                use sqlx::Row;
                let slice = $crate::slice_expr(by, true)?;
                let sql = format!(
                    "SELECT t.customer, t.day, t.amount_minor, {slice}, t.currency FROM transactions t
                     LEFT JOIN accounts a ON a.id = t.account_id ORDER BY t.customer, t.day"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| {
                        Ok($crate::StoredPurchase {
                            customer: row.try_get(0)?,
                            day: row.try_get::<i64, _>(1)? as i32,
                            amount_minor: row.try_get(2)?,
                            currency: row.try_get(4)?,
                            slice: row.try_get(3)?,
                        })
                    })
                    .collect()
            }

            async fn account_lifecycles(
                &self,
                by: Option<&str>,
            ) -> Result<Vec<$crate::AccountLifecycle>, $crate::StoreError> {
                use sqlx::Row;
                let slice = $crate::slice_expr(by, false)?;
                let sql = format!("SELECT a.since, a.until, {slice}, a.external_id FROM accounts a");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| {
                        let date = |i: usize| -> Result<Option<cx_core::period::Date>, sqlx::Error> {
                            Ok(row.try_get::<Option<String>, _>(i)?.and_then(|t| cx_core::period::Date::parse(&t)))
                        };
                        Ok((row.try_get(3)?, date(0)?, date(1)?, row.try_get(2)?))
                    })
                    .collect()
            }

            async fn day_rows(&self, slice: &$crate::ResponseSlice) -> Result<Vec<$crate::DayRows>, $crate::StoreError> {
                if let Some(plan) = $crate::cube::plan(slice) {
                    use sqlx::Row;
                    let sql = $crate::cube::select(
                        &plan, slice.collapse, "day_counts",
                        "survey_id = $1 AND field = $2 AND question_id = ''", 3, &[], "CAST(SUM(n) AS BIGINT)",
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slice.survey.0).bind(plan.field);
                    for b in plan.binds() {
                        q = q.bind(b);
                    }
                    if let Some((lo, hi)) = slice.collapse {
                        q = q.bind(i64::from(lo)).bind(i64::from(hi));
                    }
                    let k = usize::from(plan.grouped);
                    let mut out = Vec::new();
                    for row in q.fetch_all(&self.pool).await? {
                        let Some(day) = row.try_get::<Option<i64>, _>(k)? else { continue };
                        out.push($crate::DayRows {
                            key: (0..k).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>()?,
                            day: day as i32,
                            count: row.try_get::<i64, _>(k + 1)? as u64,
                        });
                    }
                    return Ok(out);
                }
                let (select, group, filter, binds) = $crate::common::slice_sql(&$dialect, slice, 2)?;
                let sql = format!(
                    "SELECT {select} r.submitted_day, COUNT(*) FROM responses r
                     WHERE r.survey_id = $1 {filter} GROUP BY {group} r.submitted_day"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(slice.survey.0);
                for b in &binds {
                    q = q.bind(b);
                }
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        let (key, rest) = $crate::common::key_and_rest(row, slice.by.len())?;
                        Ok($crate::DayRows { key, day: rest.0, count: rest.1 })
                    })
                    .collect()
            }

            async fn day_scores(
                &self,
                slice: &$crate::ResponseSlice,
                question: &str,
                column: $crate::ScoreColumn,
            ) -> Result<Vec<$crate::DayScore>, $crate::StoreError> {
                use sqlx::Row;
                if let (Some(plan), $crate::ScoreColumn::Value) = ($crate::cube::plan(slice), column) {
                    let sql = $crate::cube::select(
                        &plan, slice.collapse, "day_counts",
                        "survey_id = $1 AND field = $2 AND question_id = $3", 4, &["value"], "CAST(SUM(n) AS BIGINT)",
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(slice.survey.0)
                        .bind(plan.field)
                        .bind(question);
                    for b in plan.binds() {
                        q = q.bind(b);
                    }
                    if let Some((lo, hi)) = slice.collapse {
                        q = q.bind(i64::from(lo)).bind(i64::from(hi));
                    }
                    let k = usize::from(plan.grouped);
                    let mut out = Vec::new();
                    for row in q.fetch_all(&self.pool).await? {
                        let Some(day) = row.try_get::<Option<i64>, _>(k)? else { continue };
                        out.push($crate::DayScore {
                            key: (0..k).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>()?,
                            day: day as i32,
                            value: row.try_get::<i64, _>(k + 1)?,
                            count: row.try_get::<i64, _>(k + 2)? as u64,
                        });
                    }
                    return Ok(out);
                }
                let (select, group, filter, binds) = $crate::common::slice_sql(&$dialect, slice, 3)?;
                let column = match column {
                    $crate::ScoreColumn::Value => "a.value_int",
                    $crate::ScoreColumn::Sentiment => "a.sentiment",
                };
                let sql = format!(
                    "SELECT {select} r.submitted_day, CAST({column} AS BIGINT), COUNT(*) FROM responses r
                     JOIN answers a ON a.response_id = r.id AND a.question_id = $2
                     WHERE r.survey_id = $1 AND {column} IS NOT NULL {filter}
                     GROUP BY {group} r.submitted_day, {column}"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(slice.survey.0).bind(question);
                for b in &binds {
                    q = q.bind(b);
                }
                let k = slice.by.len();
                q.fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| {
                        let key = (0..k).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>()?;
                        Ok($crate::DayScore {
                            key,
                            day: row.try_get::<i64, _>(k)? as i32,
                            value: row.try_get::<i64, _>(k + 1)?,
                            count: row.try_get::<i64, _>(k + 2)? as u64,
                        })
                    })
                    .collect()
            }

            async fn text_answers(
                &self,
                survey: cx_core::model::SurveyId,
                question: &str,
                after: i64,
                limit: i64,
            ) -> Result<Vec<(i64, String)>, $crate::StoreError> {
                Ok(sqlx::query_as::<_, (i64, String)>(
                    "SELECT a.response_id, a.value_text FROM answers a JOIN responses r ON r.id = a.response_id
                     WHERE r.survey_id = $1 AND a.question_id = $2 AND a.value_text IS NOT NULL AND a.response_id > $3
                     ORDER BY a.response_id LIMIT $4",
                )
                .bind(survey.0)
                .bind(question)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn set_answer_analyses(
                &self,
                question: &str,
                rows: &[(i64, $crate::TextColumns)],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                for (id, t) in rows {
                    sqlx::query(
                        "UPDATE answers SET sentiment = $1, sentiment_score = $2, topics = $3 WHERE response_id = $4 AND question_id = $5",
                    )
                    .bind(t.sentiment)
                    .bind(t.score)
                    .bind(&t.topics)
                    .bind(*id)
                    .bind(question)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn feedback_texts(&self, after: i64, limit: i64) -> Result<Vec<(i64, String)>, $crate::StoreError> {
                Ok(sqlx::query_as::<_, (i64, String)>("SELECT id, text FROM feedback WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn set_feedback_analyses(&self, rows: &[(i64, $crate::TextColumns)]) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                for (id, t) in rows {
                    sqlx::query("UPDATE feedback SET lang = $1, sentiment = $2, sentiment_score = $3, topics = $4 WHERE id = $5")
                        .bind(&t.lang)
                        .bind(t.sentiment)
                        .bind(t.score)
                        .bind(&t.topics)
                        .bind(*id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn day_pairs(
                &self,
                slice: &$crate::ResponseSlice,
                x: &str,
                y: &str,
            ) -> Result<Vec<$crate::DayPair>, $crate::StoreError> {
                use sqlx::Row;
                let (select, group, filter, binds) = $crate::common::slice_sql(&$dialect, slice, 4)?;
                let sql = format!(
                    "SELECT {select} r.submitted_day, COUNT(*), CAST(SUM(a.value_int) AS BIGINT),
                       CAST(SUM(b.value_int) AS BIGINT), CAST(SUM(a.value_int * b.value_int) AS BIGINT)
                     FROM responses r
                     JOIN answers a ON a.response_id = r.id AND a.question_id = $2
                     JOIN answers b ON b.response_id = r.id AND b.question_id = $3
                     WHERE r.survey_id = $1 AND a.value_int IS NOT NULL AND b.value_int IS NOT NULL {filter}
                     GROUP BY {group} r.submitted_day"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(slice.survey.0).bind(x).bind(y);
                for b in &binds {
                    q = q.bind(b);
                }
                let k = slice.by.len();
                q.fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| {
                        let key = (0..k).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>()?;
                        Ok($crate::DayPair {
                            key,
                            day: row.try_get::<i64, _>(k)? as i32,
                            n: row.try_get::<i64, _>(k + 1)? as u64,
                            sum_x: row.try_get::<i64, _>(k + 2)?,
                            sum_y: row.try_get::<i64, _>(k + 3)?,
                            sum_xy: row.try_get::<i64, _>(k + 4)?,
                        })
                    })
                    .collect()
            }

            async fn day_pairs_all(
                &self,
                slice: &$crate::ResponseSlice,
                questions: &[String],
            ) -> Result<Vec<(usize, usize, $crate::DayPair)>, $crate::StoreError> {
                use sqlx::Row;
                let q = questions.len();
                if q < 2 {
                    return Ok(Vec::new());
                }
                // The cube holds the pairs of rated dimensions.
                if let Some(plan) = $crate::cube::plan(slice) {
                    let definition: String = sqlx::query_scalar("SELECT definition FROM surveys WHERE id = $1")
                        .bind(slice.survey.0)
                        .fetch_one(&self.pool)
                        .await?;
                    let ratings = $crate::cube::ratings_of(&definition);
                    let mut distinct = questions.to_vec();
                    distinct.sort();
                    distinct.dedup();
                    if distinct.len() == q && questions.iter().all(|x| ratings.contains(x)) {
                        let list = |from: usize| (0..q).map(|i| format!("${}", from + i)).collect::<Vec<_>>().join(", ");
                        let sql = $crate::cube::select(
                            &plan,
                            slice.collapse,
                            "day_pairs",
                            &format!("survey_id = $1 AND field = $2 AND qx IN ({}) AND qy IN ({})", list(3), list(3 + q)),
                            3 + 2 * q,
                            &["qx", "qy"],
                            "CAST(SUM(n) AS BIGINT), CAST(SUM(sx) AS BIGINT), CAST(SUM(sy) AS BIGINT), CAST(SUM(sxy) AS BIGINT)",
                        );
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slice.survey.0).bind(plan.field);
                        for question in questions.iter().chain(questions) {
                            query = query.bind(question);
                        }
                        for b in plan.binds() {
                            query = query.bind(b);
                        }
                        if let Some((lo, hi)) = slice.collapse {
                            query = query.bind(i64::from(lo)).bind(i64::from(hi));
                        }
                        let k = usize::from(plan.grouped);
                        let mut out = Vec::new();
                        for row in query.fetch_all(&self.pool).await? {
                            let Some(day) = row.try_get::<Option<i64>, _>(k)? else { continue };
                            let key = (0..k).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>()?;
                            let qx: String = row.try_get(k + 1)?;
                            let qy: String = row.try_get(k + 2)?;
                            let (Some(a), Some(b)) = (questions.iter().position(|x| *x == qx), questions.iter().position(|x| *x == qy)) else {
                                continue;
                            };
                            let (n, sx, sy, sxy): (i64, i64, i64, i64) =
                                (row.try_get(k + 3)?, row.try_get(k + 4)?, row.try_get(k + 5)?, row.try_get(k + 6)?);
                            let (i, j, sum_x, sum_y) = if a < b { (a, b, sx, sy) } else { (b, a, sy, sx) };
                            out.push((i, j, $crate::DayPair {
                                key,
                                day: day as i32,
                                n: n as u64,
                                sum_x,
                                sum_y,
                                sum_xy: sxy,
                            }));
                        }
                        return Ok(out);
                    }
                }
                // Inner: one row per response with each question's score as v0, v1, …;
                // outer: per group and day, for every pair, n and the three sums.
                let (_, _, filter, binds) = $crate::common::slice_sql(&$dialect, slice, 2 + q)?;
                let k = slice.by.len();
                let mut keys = String::new();
                let mut outer_keys = String::new();
                for (i, field) in slice.by.iter().enumerate() {
                    keys.push_str(&format!("{} AS k{i}, ", $crate::field_expr(&$dialect, field)?));
                    outer_keys.push_str(&format!("k{i}, "));
                }
                let mut values = String::new();
                let mut list = Vec::new();
                for i in 0..q {
                    values.push_str(&format!(", MAX(CASE WHEN a.question_id = ${} THEN a.value_int END) AS v{i}", i + 2));
                    list.push(format!("${}", i + 2));
                }
                let mut sums = String::new();
                let mut pairs = Vec::new();
                for i in 0..q {
                    for j in i + 1..q {
                        sums.push_str(&format!(
                            ", CAST(SUM(CASE WHEN v{i} IS NOT NULL AND v{j} IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
                               CAST(SUM(CASE WHEN v{j} IS NOT NULL THEN v{i} END) AS BIGINT),
                               CAST(SUM(CASE WHEN v{i} IS NOT NULL THEN v{j} END) AS BIGINT),
                               CAST(SUM(v{i} * v{j}) AS BIGINT)"
                        ));
                        pairs.push((i, j));
                    }
                }
                let sql = format!(
                    "SELECT {outer_keys} day{sums} FROM (
                       SELECT {keys} r.submitted_day AS day{values}
                       FROM responses r JOIN answers a ON a.response_id = r.id
                       WHERE r.survey_id = $1 AND a.question_id IN ({}) AND a.value_int IS NOT NULL {filter}
                       GROUP BY r.id) p
                     GROUP BY {outer_keys} day",
                    list.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(slice.survey.0);
                for question in questions {
                    query = query.bind(question);
                }
                for b in &binds {
                    query = query.bind(b);
                }
                let mut out = Vec::new();
                for row in query.fetch_all(&self.pool).await? {
                    let key = (0..k).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>()?;
                    let day = row.try_get::<i64, _>(k)? as i32;
                    for (p, (i, j)) in pairs.iter().enumerate() {
                        let c = k + 1 + 4 * p;
                        let n = row.try_get::<Option<i64>, _>(c)?.unwrap_or(0);
                        if n == 0 {
                            continue;
                        }
                        out.push((*i, *j, $crate::DayPair {
                            key: key.clone(),
                            day,
                            n: n as u64,
                            sum_x: row.try_get::<Option<i64>, _>(c + 1)?.unwrap_or(0),
                            sum_y: row.try_get::<Option<i64>, _>(c + 2)?.unwrap_or(0),
                            sum_xy: row.try_get::<Option<i64>, _>(c + 3)?.unwrap_or(0),
                        }));
                    }
                }
                Ok(out)
            }
        }

        impl $ty {
            /// Ids of the rows of `table` (accounts or contacts) whose external id is among `codes`.
            async fn ids_by_code(
                &self,
                table: &'static str,
                codes: &[String],
            ) -> Result<std::collections::HashMap<String, i64>, $crate::StoreError> {
                use sqlx::Row;
                let mut out = std::collections::HashMap::new();
                for chunk in codes.chunks(500) {
                    let list: Vec<String> = (1..=chunk.len()).map($dialect.placeholder).collect();
                    let sql = format!("SELECT external_id, id FROM {table} WHERE external_id IN ({})", list.join(","));
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                    for c in chunk {
                        q = q.bind(c);
                    }
                    for row in q.fetch_all(&self.pool).await? {
                        out.insert(row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?);
                    }
                }
                Ok(out)
            }
        }
    };
}
pub(crate) use impl_store;

/// The index of transactions by account (migration 10's definition: a later
/// migration that changes the index must change this too). A big import of
/// linked transactions drops it and builds it once at the end
/// ([`crate::Store::defer_transaction_index`]); opening a store builds it if an
/// import that dropped it never finished.
pub(crate) const TRANSACTIONS_ACCOUNT_INDEX: &str = "CREATE INDEX IF NOT EXISTS transactions_account ON transactions(account_id, day) WHERE account_id IS NOT NULL";

/// Whether an import of about `rows` transactions is cheaper with the account
/// index built once afterwards than kept up row by row: measured on SQLite,
/// a linked row entering the index at a random place costs ~3.7 µs, building
/// it ~0.8 µs per stored row. Without accounts no row enters it (the index
/// leaves unlinked rows out), and below 100,000 rows the difference is small.
pub(crate) fn worth_deferring_index(rows: u64, stored: u64, has_accounts: bool) -> bool {
    has_accounts && rows >= 100_000 && rows >= stored / 4
}

use sqlx::Row;

use crate::{StoreError, StoredSurvey};

/// Tables reported by `table_counts`, in dependency order.
pub(crate) const TABLES: [&str; 11] = [
    "surveys",
    "responses",
    "answers",
    "accounts",
    "contacts",
    "transactions",
    "interactions",
    "feedback",
    "assessments",
    "tasks",
    "users",
];

/// `(inserted, duplicate)` from rows affected out of `attempted`.
pub(crate) fn counted(affected: u64, attempted: u64) -> crate::InsertCounts {
    crate::InsertCounts {
        inserted: affected,
        duplicate: attempted - affected.min(attempted),
        updated: 0,
    }
}

/// The value columns of an answer.
/// The stored analysis of an open-text answer (`None` for other answers).
pub(crate) fn text_columns(
    value: &cx_core::model::survey::AnswerValue,
) -> Option<crate::TextColumns> {
    match value {
        cx_core::model::survey::AnswerValue::Text(t) if !t.trim().is_empty() => {
            Some(analyze_text(t))
        }
        _ => None,
    }
}

/// The analysis of every answer of every response (`None` for non-text
/// answers), computed on all cores; index-aligned with `batch` and its answers.
pub(crate) fn analyze_answers(
    batch: &[crate::NewResponse],
) -> Vec<Vec<Option<crate::TextColumns>>> {
    let analyse = |r: &crate::NewResponse| {
        r.answers
            .iter()
            .map(|(_, v)| text_columns(v))
            .collect::<Vec<_>>()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if batch.len() < 256 || threads < 2 {
        return batch.iter().map(analyse).collect();
    }
    let chunk = batch.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = batch
            .chunks(chunk)
            .map(|part| {
                (
                    part,
                    s.spawn(move || part.iter().map(analyse).collect::<Vec<_>>()),
                )
            })
            .collect();
        // A worker that panicked is redone here, so every response keeps its row.
        handles
            .into_iter()
            .flat_map(|(part, h)| {
                h.join()
                    .unwrap_or_else(|_| part.iter().map(analyse).collect())
            })
            .collect()
    })
}

/// Analyse a text with the built-in models (cx-text) into its stored columns.
pub fn analyze_text(text: &str) -> crate::TextColumns {
    let a = cx_text::Analyzer::builtin().analyze(text);
    crate::TextColumns {
        lang: a.lang.code().to_owned(),
        sentiment: a.sentiment.value(),
        score: f64::from(a.score),
        topics: serde_json::to_string(&a.topics).unwrap_or_else(|_| "[]".to_owned()),
    }
}

pub(crate) fn answer_columns(
    value: &cx_core::model::survey::AnswerValue,
) -> (Option<i64>, Option<String>) {
    use cx_core::model::survey::AnswerValue;
    match value {
        AnswerValue::Score(v) => (Some(*v), None),
        AnswerValue::Text(t) => (None, Some(t.clone())),
        AnswerValue::Choices(c) => (None, Some(c.join(";"))),
    }
}

pub(crate) fn stored_survey<R: Row>(row: &R) -> Result<StoredSurvey, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: i64 = row.try_get(0)?;
    let json: String = row.try_get(1)?;
    let responses: i64 = row.try_get(2)?;
    let definition = serde_json::from_str(&json).map_err(|e| {
        StoreError::Invalid(format!("survey {id}: stored definition unreadable: {e}"))
    })?;
    Ok(StoredSurvey {
        id: cx_core::model::SurveyId(id),
        definition,
        responses: responses as u64,
    })
}

/// `(key values, (day, count))` of a `day_rows` row.
pub(crate) fn key_and_rest<R: Row>(
    row: &R,
    k: usize,
) -> Result<(Vec<String>, (i32, u64)), StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let key = (0..k)
        .map(|i| row.try_get::<String, _>(i))
        .collect::<Result<Vec<_>, _>>()?;
    let day: i64 = row.try_get(k)?;
    let count: i64 = row.try_get(k + 1)?;
    Ok((key, (day as i32, count as u64)))
}

/// SELECT prefix, GROUP BY prefix, WHERE suffix and its bind values for a
/// slice; filter placeholders start at `$first`.
pub(crate) fn slice_sql(
    dialect: &crate::Dialect,
    slice: &crate::ResponseSlice,
    first: usize,
) -> Result<(String, String, String, Vec<String>), StoreError> {
    let mut select = String::new();
    let mut group = String::new();
    for (i, field) in slice.by.iter().enumerate() {
        select.push_str(&crate::field_expr(dialect, field)?);
        select.push_str(", ");
        group.push_str(&format!("{}, ", i + 1));
    }
    let mut filter = String::new();
    let mut binds = Vec::new();
    for (field, values) in &slice.filters {
        let expr = crate::field_expr(dialect, field)?;
        let list: Vec<String> = values
            .iter()
            .map(|v| {
                binds.push(v.trim().to_string());
                format!("${}", first + binds.len() - 1)
            })
            .collect();
        filter.push_str(&format!(" AND {expr} IN ({})", list.join(", ")));
    }
    Ok((select, group, filter, binds))
}

#[cfg(test)]
mod tests {
    use super::worth_deferring_index;

    #[test]
    fn the_index_is_deferred_only_for_big_imports_of_linkable_rows() {
        assert!(worth_deferring_index(1_000_000, 0, true));
        assert!(worth_deferring_index(1_000_000, 4_000_000, true));
        // More stored than four times the new rows: keep it.
        assert!(!worth_deferring_index(1_000_000, 4_000_004, true));
        assert!(!worth_deferring_index(99_999, 0, true));
        // No accounts: no row enters the index.
        assert!(!worth_deferring_index(1_000_000, 0, false));
    }
}
