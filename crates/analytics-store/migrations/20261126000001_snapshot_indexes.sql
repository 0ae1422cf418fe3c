-- The admin snapshot's top lists read the first rows of an index instead of
-- sorting the catalogue: views then downloads (and the reverse) for the most
-- viewed and downloaded, and each movie's ratings beside its id for the best
-- rated (the average is computed from the index alone).
ALTER TABLE jav
    ADD KEY jav_views_downloads_index (views, downloads),
    ADD KEY jav_downloads_views_index (downloads, views);
ALTER TABLE ratings
    ADD KEY ratings_jav_rating_index (jav_id, rating);
