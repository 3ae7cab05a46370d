//! The parts of running a comparison query that are the same for every sqlx driver: binding
//! parameters, reading result cells as text, streaming rows and describing result columns.
//! The engine modules differ only in the pool and the row type, so this is a macro expanded in
//! each of them; it names no engine and holds no SQL.

/// The parts of running a comparison query that are the same for every sqlx driver; the
/// engine modules differ only in the pool and the row type.
macro_rules! driver_glue {
    (bind $query:expr) => {{
        let mut q = sqlx::query(&$query.sql);
        for p in &$query.params {
            q = match p {
                Param::Int(i) => q.bind(*i),
                Param::Text(s) => q.bind(s.clone()),
            };
        }
        q
    }};
    // A result cell as text: text columns as they are, integer columns (counts, block
    // numbers, which need no cast in SQL) printed; `$extra` lists more integer types.
    // Text the driver calls binary (a column under a `_bin` collation, read as it is) is
    // read as UTF-8, which every canonical value is.
    (text_cell $row:expr, $i:expr $(, $extra:ty)*) => {
        $row.try_get::<Option<String>, _>($i)
            .or_else(|_| $row.try_get::<Option<i64>, _>($i).map(|v| v.map(|v| v.to_string())))
            .or_else(|_| $row.try_get::<Option<i32>, _>($i).map(|v| v.map(|v| v.to_string())))
            $(.or_else(|_| $row.try_get::<Option<$extra>, _>($i).map(|v| v.map(|v| v.to_string()))))*
            .or_else(|e| match $row.try_get::<Option<Vec<u8>>, _>($i) {
                Ok(Some(bytes)) => String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|u| sqlx::Error::Decode(Box::new(u))),
                Ok(None) => Ok(None),
                Err(_) => Err(e),
            })
    };
    (text_rows $rows:expr) => {
        $rows
            .iter()
            .map(|r| (0..r.len()).map(|i| text_cell(r, i)).collect())
            .collect()
    };
    // Stream a query's rows (all text) into `$tx` as they arrive; stops early when the
    // receiver is gone. Evaluates to the number of rows sent.
    (stream $query:expr, $executor:expr, $tx:expr) => {{
        use futures::TryStreamExt;
        let q = driver_glue!(bind $query);
        let mut rows = q.fetch($executor);
        let mut n: u64 = 0;
        while let Some(row) = rows.try_next().await? {
            let cells = (0..row.len())
                .map(|i| text_cell(&row, i))
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            n += 1;
            if $tx.send(cells).await.is_err() {
                break;
            }
        }
        Ok(n)
    }};
    (columns $described:expr) => {
        Ok($described
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), native(c.type_info().name())))
            .collect())
    };
    // Counting, executing and asking the version on the pool directly, for an engine that
    // needs no per-connection setup before a statement: `$version` is its version query.
    (pooled $version:expr) => {
        fn fetch_i64<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<i64, sqlx::Error>> {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&self.pool)
                .boxed()
        }

        fn execute<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
            async move { Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected()) }.boxed()
        }

        fn version(&self) -> BoxFuture<'_, Result<String, sqlx::Error>> {
            sqlx::query_scalar::<_, String>($version)
                .fetch_one(&self.pool)
                .boxed()
        }
    };
    // Describing a query and closing the pool, the same for every engine.
    (describe_and_close) => {
        fn describe<'a>(
            &'a self,
            sql: &'a str,
        ) -> BoxFuture<'a, Result<Vec<(String, Native)>, sqlx::Error>> {
            async move {
                let d = (&self.pool).describe(sql).await?;
                driver_glue!(columns d)
            }
            .boxed()
        }

        fn close(&self) -> BoxFuture<'_, ()> {
            self.pool.close().boxed()
        }
    };
}
